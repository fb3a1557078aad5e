"""The bundled default model (safetensors, metadata inside)."""
