"""The live twin at a site: read its batches by shared meaning, proven ranges, replay, recommend."""
