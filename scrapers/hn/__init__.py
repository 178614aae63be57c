"""Hacker News "Ask HN: Who is hiring?" threads, through the official API (collect, parse, sandbox)."""
