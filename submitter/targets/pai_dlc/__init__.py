"""The Alibaba Cloud PAI-DLC target (kind: pai-dlc), through the official SDK alibabacloud-pai-dlc20201203."""
