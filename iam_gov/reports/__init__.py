"""Reports: findings in every output format (``formats``), the rule catalogue, explanations
and run summaries; every untrusted string made safe (``safe``)."""
