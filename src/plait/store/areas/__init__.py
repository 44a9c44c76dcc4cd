"""Store verbs by area, written once against a Session; mixed into each backend."""
