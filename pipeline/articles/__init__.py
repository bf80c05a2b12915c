"""Finding the quotes, their speakers and their text in news articles."""
