"""scripts_library package."""
