"""Security findings of the trust issue, one test module per class of attack."""
