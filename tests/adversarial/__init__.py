"""The hub's own adversarial cases (issue 15): a member with a valid key, one module per class of
fault."""
