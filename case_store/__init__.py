"""case_store package."""
