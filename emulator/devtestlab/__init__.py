"""Microsoft.DevTestLab resources: labs, VMs, custom images and artifacts."""
