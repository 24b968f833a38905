"""MRI reconstruction configs (``--mode recon``)."""
