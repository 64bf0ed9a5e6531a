"""Tools an avatar can use during a turn: owner-defined HTTP tools and the built-in ones."""
