"""DeltaDatabase library: everything the Chalice app and the local harness share."""
