"""Data access: AWS clients, error translation, the incidents table, live lookups."""
