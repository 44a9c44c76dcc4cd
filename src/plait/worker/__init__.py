"""The worker: claims runnable runs under leases and executes them."""
