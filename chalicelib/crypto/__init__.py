"""Envelope encryption: a data key per entity version, wrapped by a KeyRing's KEK."""
