"""Thin Lambda handlers: parse, call one domain function, return JSON."""
