"""Diffusion image-to-image engine and the GPU worker task.

The package imports no Django models, so a GPU machine needs only the broker and the storage
bucket. Importing `wearview.engine` itself loads no torch: `payloads` and `errors` are light
and the studio side may import them; `loading`, `differential` and `candidates` load torch.
"""
