"""Processing handlers: the two processing functions and the typed protocol they answer."""
