"""Wire models of the API: what requests carry and responses answer (contract §2 to §4)."""
