"""The beard of a bearded face: which beard-zone pixels the skin mask gives up as hair.

A single pixel cannot tell stubble from shaded skin (30 % of a woman's lower face passes the
same per-pixel test as stubble does); a face can. So the face is first called bearded when
the median dark-dot z over its beard zone reaches BEARDED_Z, and only then is its beard
found from the beard score (blood deficit + darkness + dot z, averaged over BEARD_SMOOTH_MM):

* the confident beard is above BEARD_Z in the beard zone;
* it grows, by hysteresis, into the connected beard-zone pixels above BEARD_GROW_Z: stubble
  thins towards its edges and between denser patches, where a lighter, sparser texture
  scores like skin on its own but is joined to the beard;
* the zone's upper edge rises towards the face's sides by up to CHEEK_RISE_MM (the cheek
  line of a beard runs from the mouth corner up to the sideburn), where the growth must
  pass the stricter CHEEK_GROW_Z: the upper cheeks beside the outline are shaded skin on
  most faces;
* skin wholly enclosed by the beard (below the zone's top, not reaching the face's edge) is
  beard too: a lighter patch of a full beard, not a clean island.

Shaved, clean and female faces (median dot z -1.2..0.9 on the development portraits) never
reach this code, so what it takes costs only bearded faces.

A moustache alone leaves the zone's median with the skin (london_042: -0.5), and its sparse
hairs on dark skin pass the per-pixel hair test only in specks, while the hand-drawn label
(like a viewer) takes the whole upper lip around them. So the upper lip is judged on its own:
it carries a moustache when, on each side of the philtrum (beyond MOUSTACHE_MIDLINE_MM of the
subnasale), at least MOUSTACHE_SHARE of it is both dotted and bloodless, as hair shafts are
(a moustache grows on both sides; a pale philtrum or the columella's shade is one central
patch). Then its pixels above BEARD_GROW_Z on the beard score are hair, with the skin they
enclose.

Light stubble, densest on the chin and jaw with clear cheeks beside it, also leaves the zone's
median with the skin (london_125: 0.27). So the chin is judged on its own too: a face whose
chin (below the mouth, inside the jaw's shading) is at least STUBBLE_SHARE dotted, bloodless
(STUBBLE_BLOOD_Z) and no lighter than the cheeks' skin is stubbled, and its beard is found as
a bearded face's, without the cheek rise. A shiny chin is the trap: its sheen whitens and
desaturates the skin (bloodless) and brings out its pores (dotted), while hair only darkens;
so what is lighter than the cheeks' skin (L* over STUBBLE_AREA_MM) is no shaft (london_099's
chin highlight: 0.082 of her chin as a moustache's shafts, 0.007 unlit). On the development
portraits: women 0.000-0.019, clean-shaven men and light jaw stubble up to 0.024 (london_021;
0.037 at 0.75x, 0.031 with a flush drawn on a cheek seed), a day's dark stubble 0.049 and
0.061 (london_142, 138; 0.045 at the least under the invariance transforms), london_130's
0.039 between, london_125 0.172, beards 0.35-0.56. Grey stubble lighter than the skin
(london_121: 0.015) is not called.

A stubbled face's beard (:func:`stubble_hair`) is grown as a bearded face's, but kept only where
the skin is dotted: the beard score's blood deficit is measured against the cheeks, which are
redder than the lower face on most faces (and on any flushed one), so it alone takes clear
lower cheeks beside the stubble too (london_138: 67 % of their hand-labelled clear skin kept).
A beard pixel stays hair where its dot texture (the positive dot z, averaged over
STUBBLE_TEXTURE_MM) reaches the seed skin's median, closed over STUBBLE_CLOSE_MM (stubble is
patchy); between the mouth corners (the upper lip and the chin, where the call was made and
where stubble is densest) all of it stays, and the whole upper lip is hair, from the
subnasale to the vermilion and MOUSTACHE_REACH_MM past the mouth corners: the dot filter is
blind in the nostrils' margin, where a moustache's top grows, and its ends reach past the
corners (london_125: labelled hair in the mask 1.48 -> 0.87 %, 138 0.40 -> 0.06 %). On
london_138 the labelled clear skin in the beard zone averages 0.06, its stubble 1.11, the
seeds 0.28.
"""
from __future__ import annotations

import cv2
import numpy as np

from algorithms.skin.geometry import disc

__all__ = ["BEARDED_Z", "MOUSTACHE_REACH_MM", "STUBBLE_AREA_MM", "STUBBLE_SHARE",
           "STUBBLE_TEXTURE_MM", "is_bearded", "is_stubbled", "stubble_share", "beard_hair",
           "stubble_hair", "stubble_texture", "has_moustache", "moustache_hair"]

# Median dot z over the beard zone: shaved, clean and female faces -1.2..0.9 on the
# development portraits; stubble and beards 1.8-5.8.
BEARDED_Z = 1.5
BEARD_SMOOTH_MM = 1.5
BEARD_Z = 2.0            # confident beard
BEARD_GROW_Z = 1.0       # joined to it, inside the beard zone
CHEEK_RISE_MM = 10.0     # how far above the beard zone its edge reaches at the face's sides
CHEEK_GROW_Z = 2.0       # joined to the beard, in that rise
# Dotted and bloodless share of each side of the upper lip, the lesser side: clean faces
# 0.00-0.03 on the development portraits (london_099, a black woman, 0.02: her pale philtrum
# is central and would be 0.09 over the whole lip), london_042's moustache 0.11, shaved
# shadows 0.5. london_121's grey stubble, denser on one side (0.05), stays below.
MOUSTACHE_SHARE = 0.06
MOUSTACHE_DOT_Z, MOUSTACHE_BLOOD_Z = 2.0, 0.75
MOUSTACHE_MIDLINE_MM = 3.0
# Light stubble: dotted, bloodless and unlit share of the chin (the beard zone from
# STUBBLE_BELOW_MOUTH_MM below the mouth corners down, STUBBLE_INSET_MM inside the inset
# outline, where the jaw's shading is): women <= 0.019, clean-shaven men and light jaw stubble
# <= 0.024 on the development portraits (<= 0.037 under the invariance transforms), a day's
# dark stubble 0.049-0.061 (>= 0.045), london_125 0.172. A shaft's blood deficit is held to
# STUBBLE_BLOOD_Z (at the moustache's 0.75, london_021's clear chin scores 0.039) and its L*,
# averaged over STUBBLE_AREA_MM (the dot energy's area), to the cheeks' median: a chin's
# highlight is bloodless and dotted too.
STUBBLE_SHARE = 0.04
STUBBLE_BLOOD_Z = 1.0
STUBBLE_AREA_MM = 1.5
STUBBLE_BELOW_MOUTH_MM = 3.0
STUBBLE_INSET_MM = 3.0
# A stubbled face's beard stays where it is dotted (stubble_hair)
STUBBLE_TEXTURE_MM = 3.0
STUBBLE_CLOSE_MM = 3.0
# ... and its whole upper lip is hair, this far past the mouth corners: the moustaches hand-
# labelled on the stubbled london_125 and 138 reach 5.2-7.4 and -0.4-4.8 mm past them (median
# over the lip's rows, each side)
MOUSTACHE_REACH_MM = 5.0
# mesh points: the alae's outer points and the face's sides at eye level
RIGHT_ALA, LEFT_ALA, RIGHT_SIDE, LEFT_SIDE = 48, 278, 234, 454


def is_bearded(dots: np.ndarray, zone: np.ndarray) -> bool:
    """Whether the beard zone's median dot z reaches BEARDED_Z."""
    return bool(zone.any()) and float(np.median(dots[zone])) >= BEARDED_Z


def _shafts(blood: np.ndarray, dots: np.ndarray,
            blood_z: float = MOUSTACHE_BLOOD_Z) -> np.ndarray:
    """Pixels dotted and bloodless, as hair shafts are (the moustache's and stubble's test)."""
    return (dots >= MOUSTACHE_DOT_Z) & (blood >= blood_z)


def stubble_share(blood: np.ndarray, dots: np.ndarray, chin: np.ndarray,
                  unlit: np.ndarray) -> float | None:
    """The share of the chin ``chin`` dotted and bloodless, as hair shafts are, and ``unlit``
    (no lighter than the cheeks' skin: a highlight's pores are no shafts); None without a
    chin."""
    if not chin.any():
        return None
    return float((_shafts(blood, dots, STUBBLE_BLOOD_Z) & unlit)[chin].mean())


def is_stubbled(blood: np.ndarray, dots: np.ndarray, chin: np.ndarray,
                unlit: np.ndarray) -> bool:
    """Whether at least STUBBLE_SHARE of the chin is stubble (:func:`stubble_share`)."""
    share = stubble_share(blood, dots, chin, unlit)
    return share is not None and share >= STUBBLE_SHARE


def _cheek_rise(pts: np.ndarray, top: float, mm: float, shape) -> np.ndarray:
    """Rows at or below the beard zone's top, raised towards the sides: flat between the
    alae, up by CHEEK_RISE_MM at the face's sides (bool)."""
    h, w = shape
    xs = np.arange(w, dtype=np.float32)
    mid = float(pts[RIGHT_ALA][0] + pts[LEFT_ALA][0]) / 2
    nose = abs(float(pts[LEFT_ALA][0] - pts[RIGHT_ALA][0])) / 2
    half = abs(float(pts[LEFT_SIDE][0] - pts[RIGHT_SIDE][0])) / 2
    t = np.clip((np.abs(xs - mid) - nose) / max(half - nose, 1.0), 0.0, 1.0)
    edge = top - CHEEK_RISE_MM * mm * t
    return np.arange(h, dtype=np.float32)[:, None] >= edge[None, :]


def beard_hair(blood: np.ndarray, dark: np.ndarray, dots: np.ndarray, zone: np.ndarray,
               top: float, anatomy: np.ndarray, pts: np.ndarray, mm: float,
               rise: bool = True) -> np.ndarray:
    """The beard (bool) of a bearded face: ``blood``, ``dark`` and ``dots`` are the skin
    mask's one-sided z-scores (``dots`` not yet cut to the beard zone), ``zone`` the beard
    zone whose top row is ``top``."""
    shape = zone.shape
    reach = zone | (_cheek_rise(pts, top, mm, shape) & anatomy) if rise else zone
    score = cv2.GaussianBlur(blood + dark + np.maximum(np.where(reach, dots, 0), 0), (0, 0),
                             BEARD_SMOOTH_MM * mm)
    beard = (score > BEARD_Z) & zone
    grow = reach & (score > np.where(zone, BEARD_GROW_Z, CHEEK_GROW_Z))
    n, labels = cv2.connectedComponents(grow.astype(np.uint8), connectivity=8)
    joined = np.zeros(n, bool)
    joined[np.unique(labels[beard])] = True
    joined[0] = False
    beard |= joined[labels]
    # holes: what is not beard and reaches neither above the zone nor the image's edge
    n, labels = cv2.connectedComponents((~beard).astype(np.uint8), connectivity=4)
    open_ = np.zeros(n, bool)
    r0 = max(int(np.floor(top)), 0)
    for border in (labels[:r0 + 1].ravel(), labels[-1], labels[:, 0], labels[:, -1]):
        open_[np.unique(border)] = True
    return (beard | ~open_[labels]) & anatomy


def stubble_texture(dots: np.ndarray, mm: float) -> np.ndarray:
    """The positive dot z averaged over STUBBLE_TEXTURE_MM (float32): how dotted the skin
    around each pixel is."""
    return cv2.GaussianBlur(np.maximum(dots, 0).astype(np.float32), (0, 0),
                            STUBBLE_TEXTURE_MM * mm)


def stubble_hair(blood: np.ndarray, dark: np.ndarray, dots: np.ndarray, zone: np.ndarray,
                 top: float, anatomy: np.ndarray, pts: np.ndarray, mm: float,
                 central: np.ndarray, seeds: np.ndarray, *,
                 upper_lip: np.ndarray | None = None) -> np.ndarray:
    """The stubble (bool) of a stubbled face: its beard (:func:`beard_hair` without the rise
    up the cheeks) where :func:`stubble_texture` reaches its median over ``seeds`` (the cheek
    discs of the colour model), closed over STUBBLE_CLOSE_MM, and all of it in ``central``
    (the upper lip and chin between the mouth corners, where the stubble call was made); and
    the whole ``upper_lip`` (the subnasale to the vermilion, MOUSTACHE_REACH_MM past the
    mouth corners) in the anatomy part."""
    beard = beard_hair(blood, dark, dots, zone, top, anatomy, pts, mm, rise=False)
    texture = stubble_texture(dots, mm)
    dotted = beard & (texture >= float(np.median(texture[seeds])))
    dotted = cv2.morphologyEx(dotted.astype(np.uint8), cv2.MORPH_CLOSE,
                              disc(STUBBLE_CLOSE_MM * mm)).astype(bool)
    out = beard & (dotted | central)
    return out if upper_lip is None else out | (upper_lip & anatomy)


def has_moustache(blood: np.ndarray, dots: np.ndarray, lip: np.ndarray, mid_x: float,
                  mm: float) -> bool:
    """Whether MOUSTACHE_SHARE of the upper lip ``lip`` (where the dot z is defined) is
    dotted and bloodless on both sides of the vertical line ``x = mid_x``."""
    hairy = _shafts(blood, dots)
    xs = np.arange(lip.shape[1])
    for side in (xs < mid_x - MOUSTACHE_MIDLINE_MM * mm, xs > mid_x + MOUSTACHE_MIDLINE_MM * mm):
        part = lip & side[None, :]
        if not part.any() or float(hairy[part].mean()) < MOUSTACHE_SHARE:
            return False
    return True


def moustache_hair(blood: np.ndarray, dark: np.ndarray, dots: np.ndarray, lip: np.ndarray,
                   mm: float) -> np.ndarray:
    """The moustache (bool): the upper lip ``lip``'s pixels above BEARD_GROW_Z on the beard
    score, with the skin they enclose (its hairs are sparse; between them is the moustache's
    skin, not a clean island)."""
    score = cv2.GaussianBlur(blood + dark + np.maximum(np.where(lip, dots, 0), 0), (0, 0),
                             BEARD_SMOOTH_MM * mm)
    hair = lip & (score > BEARD_GROW_Z)
    n, labels = cv2.connectedComponents((~hair).astype(np.uint8), connectivity=4)
    open_ = np.zeros(n, bool)
    for border in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        open_[np.unique(border)] = True
    return (hair | ~open_[labels]) & lip
