"""One ``APIRouter`` per concern; ``main.py`` puts ``health`` on the public side, the rest
behind the key."""
