"""What the order and the after-sales workflows do the same way: one journal (timeline, current details, amounts),
one step runner, one way to send a notice and record it, one guard for carrier scans, one safe point for
continue-as-new and one exit. Each workflow's parts build on these, so both tell their stories alike."""
