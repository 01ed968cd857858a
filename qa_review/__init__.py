"""qa_review package."""
