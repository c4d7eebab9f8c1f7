"""Change results and images put into words: facts, captions and answers to questions."""
