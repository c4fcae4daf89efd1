"""The wire models between site nodes and the federation (pydantic), shared by both sides."""
