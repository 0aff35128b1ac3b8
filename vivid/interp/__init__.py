"""Video frame interpolation with local and non-local features (``vivid interp``, ``vivid repair``)."""
