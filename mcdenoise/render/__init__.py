"""Blender-side rendering of training data and samples (imports bpy lazily, only here)."""
