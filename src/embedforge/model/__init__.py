"""The SentenceTransformer model class and its encode machinery."""
