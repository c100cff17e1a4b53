"""backpain_site: a static-site generator for plain-language evidence summaries.

Stages, in the only order they run (see build.py):
load (files -> Site) -> resolve (Site -> ResolvedSite) -> render (-> bytes per path) -> write.
"""

__version__ = "0.1.0"
