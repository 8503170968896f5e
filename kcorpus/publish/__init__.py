"""Publishing: catalog to versioned release directories laid out as Hub dataset repos."""
