import os

# The tests measure behaviour, not the user's compilation cache: keep ~/.cache untouched.
os.environ.setdefault("WIDEDIP_CACHE_DIR", "off")
