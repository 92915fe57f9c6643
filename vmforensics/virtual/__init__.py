"""Virtual devices: phones that speak the real protocols, serving a device image.

They let tests, demos and training sessions run the real client code with no phone
attached (``vmforensics simulate``).
"""
