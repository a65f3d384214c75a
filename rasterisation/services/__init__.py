"""Business logic (companies, tokens, images, upload decoding); the API layer stays thin."""
