"""Image functions for WearView: load, classify, mask, place, strength, composite and score.

Plain functions on Pillow images and NumPy arrays. Nothing here imports Django, so each
step can be tested and benchmarked alone.
"""
