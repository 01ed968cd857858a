"""transcription package."""
