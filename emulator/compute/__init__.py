"""Microsoft.Compute resources: the managed OS disks of lab VMs."""
