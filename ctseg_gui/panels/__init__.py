"""The panels around the plane views, one module each; every panel is built on a state and follows it.

Numbers shown to the user count slices and voxels from 1 (slice 1 is the first along the slice
normal: the lowest of an axial scan), so the slider, the cursor readout and the Dice plot
agree; metrics print "—" where undefined.
"""
