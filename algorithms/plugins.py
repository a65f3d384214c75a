"""The explicit list of algorithm modules; importing one registers it."""
# Each line imports one module whose classes are decorated with @registry.register.
# Keep the list sorted; add a module here when it lands.
import algorithms.facial_landmarks  # noqa: F401
import algorithms.quality  # noqa: F401
import algorithms.skin.acne  # noqa: F401
import algorithms.skin.eye_area_condition  # noqa: F401
import algorithms.skin.lines  # noqa: F401
import algorithms.skin.pigmentation  # noqa: F401
import algorithms.skin.pores  # noqa: F401
import algorithms.skin.redness  # noqa: F401
import algorithms.skin.skin  # noqa: F401
import algorithms.skin.skin_tone  # noqa: F401
import algorithms.skin.uniformness  # noqa: F401
