"""Question answering: free text -> the articles that answer it."""
