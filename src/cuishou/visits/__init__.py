"""Field visits (上门催收/外访): issuing visit cases, two-person teams, routes approved
before anyone leaves, equipment, stops with their evidence, the return and the report."""
