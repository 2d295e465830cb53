"""Fleet: devices, their enrollment and identity keys, and the signed status reports they send."""
