"""A deterministic demo catalog of household consumables and a demo household's purchase history.

The catalog is kept as tables of product lines x pack sizes so that it stays readable: one row per
line ("Tide PODS Original"), its sizes and per-pack prices in a short spec string ("42:1399 81:2499").
SKUs are ``<LINE>-<size>`` ("TIDE-PODS-ORIG-42") and therefore stable across runs.

The history simulates a household that reorders each regular consumable when it is due (its own cycle,
with jitter), sticks to its brands with the odd switch, and batches whatever is due within a few days
into one basket (one ``order_ref``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from catalog.model import Product

if TYPE_CHECKING:  # the domain sits above the catalog; import it only where a history is built
    from replenish.domain.history import Purchase

DEMO_HOUSEHOLD: dict[str, Any] = {
    "id": "demo",
    "name": "The Demo Household",
    "address": "2217 NW Alder Street, Portland, OR 97210",
    "time_zone": "America/Los_Angeles",
    "members": ["Jordan Rivera", "Sam Rivera"],
}

# --------------------------------------------------------------------------------------------------
# Categories: leaf key -> (path, synonyms every product in it gets)
# --------------------------------------------------------------------------------------------------

CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "detergent": ("household/laundry/detergent", ("laundry detergent", "laundry soap", "washing detergent")),
    "softener": ("household/laundry/fabric softener", ("softener", "fabric conditioner")),
    "dryer": ("household/laundry/dryer sheets", ("dryer sheet", "fabric softener sheets")),
    "stain": ("household/laundry/stain remover", ("stain spray", "spot remover")),
    "dishwasher": ("household/dish/dishwasher detergent",
                   ("dishwasher detergent", "dishwasher pods", "dishwasher tablets", "dishwasher soap")),
    "dishsoap": ("household/dish/dish soap", ("dishwashing liquid", "washing up liquid", "dish detergent")),
    "rinse": ("household/dish/rinse aid", ("jet dry", "dishwasher rinse")),
    "tp": ("household/paper/toilet paper", ("tp", "bath tissue", "toilet roll", "loo roll")),
    "towels": ("household/paper/paper towels", ("kitchen roll", "paper towel")),
    "tissues": ("household/paper/facial tissues", ("tissues", "kleenex")),
    "napkins": ("household/paper/napkins", ("serviettes", "paper napkins")),
    "apc": ("household/cleaning/all purpose cleaner", ("cleaning spray", "surface cleaner", "multi surface cleaner")),
    "wipes": ("household/cleaning/disinfecting wipes", ("cleaning wipes", "clorox wipes")),
    "trash": ("household/cleaning/trash bags", ("garbage bags", "bin bags", "bin liners", "trash can liners")),
    "sponges": ("household/cleaning/sponges", ("scrubbers", "dish sponge")),
    "beans": ("grocery/coffee/whole bean coffee", ("coffee beans", "coffee")),
    "ground": ("grocery/coffee/ground coffee", ("coffee", "ground coffee")),
    "kcup": ("grocery/coffee/coffee pods", ("k cups", "k-cups", "kcups", "coffee pods", "keurig pods")),
    "espresso": ("grocery/coffee/espresso capsules", ("nespresso pods", "espresso pods", "coffee capsules")),
    "dogdry": ("pet/dog/dry dog food", ("dog food", "kibble")),
    "dogwet": ("pet/dog/wet dog food", ("dog food", "canned dog food")),
    "dogtreats": ("pet/dog/dog treats", ("dog biscuits", "dog chews")),
    "catfood": ("pet/cat/cat food", ("kitty food",)),
    "litter": ("pet/cat/cat litter", ("kitty litter", "cat sand")),
    "cattreats": ("pet/cat/cat treats", ("kitty treats",)),
    "diapers": ("baby/diapering/diapers", ("nappies", "nappy", "diaper")),
    "babywipes": ("baby/diapering/baby wipes", ("wet wipes", "diaper wipes")),
    "formula": ("baby/feeding/formula", ("baby formula", "infant formula", "baby milk")),
    "shampoo": ("personal care/hair/shampoo", ("hair wash",)),
    "conditioner": ("personal care/hair/conditioner", ("hair conditioner",)),
    "bodywash": ("personal care/body/body wash", ("shower gel", "body soap")),
    "deodorant": ("personal care/body/deodorant", ("antiperspirant",)),
    "toothpaste": ("personal care/oral/toothpaste", ("tooth paste",)),
    "brushheads": ("personal care/oral/toothbrush heads",
                   ("brush heads", "toothbrush refills", "electric toothbrush heads")),
    "razors": ("personal care/shaving/razors", ("razor blades", "razor refills", "blades")),
    "fridgefilter": ("appliance/water filters/refrigerator water filters",
                     ("fridge filter", "fridge water filter", "water filter")),
    "pitcherfilter": ("appliance/water filters/pitcher water filters", ("brita filter", "pitcher filter", "water filter")),
    "faucetfilter": ("appliance/water filters/faucet water filters", ("tap filter", "water filter")),
    "ink": ("appliance/printer/ink cartridges", ("printer ink", "ink", "ink cartridge")),
    "toner": ("appliance/printer/toner cartridges", ("toner", "printer toner")),
    "descaler": ("appliance/coffee machine/descaler", ("descaling solution", "decalcifier", "coffee machine cleaner")),
    "vacbags": ("appliance/vacuum/vacuum bags", ("hoover bags", "vacuum cleaner bags")),
    "hvac": ("appliance/hvac/air filters", ("furnace filter", "hvac filter", "ac filter")),
    "aa": ("appliance/batteries/aa batteries", ("double a batteries", "batteries")),
    "aaa": ("appliance/batteries/aaa batteries", ("triple a batteries", "batteries")),
    "milk": ("grocery/dairy/milk", ("dairy milk",)),
    "eggs": ("grocery/dairy/eggs", ("dozen eggs",)),
    "almond": ("grocery/dairy alternatives/almond milk", ("almondmilk", "nut milk", "non dairy milk")),
    "oat": ("grocery/dairy alternatives/oat milk", ("oatmilk", "non dairy milk")),
    "bread": ("grocery/bakery/bread", ("loaf", "sandwich bread")),
    "bananas": ("grocery/produce/bananas", ("banana",)),
    "cereal": ("grocery/breakfast/cereal", ("breakfast cereal",)),
    "rice": ("grocery/pantry/rice", ()),
    "oliveoil": ("grocery/pantry/olive oil", ("evoo", "cooking oil")),
}

# The families the product is organised by, as category-path prefixes.
CATEGORY_FAMILIES: dict[str, tuple[str, ...]] = {
    "laundry": ("household/laundry",),
    "dish": ("household/dish",),
    "paper": ("household/paper",),
    "cleaning": ("household/cleaning",),
    "coffee": ("grocery/coffee",),
    "pet": ("pet",),
    "baby": ("baby",),
    "personal care": ("personal care",),
    "appliance": ("appliance",),
    "pantry": ("grocery/dairy", "grocery/dairy alternatives", "grocery/bakery", "grocery/produce",
               "grocery/breakfast", "grocery/pantry"),
}


def category_family(category: str) -> str | None:
    """The family ("laundry", "pantry", ...) a category path belongs to, or None."""
    for family, prefixes in CATEGORY_FAMILIES.items():
        if any(category == p or category.startswith(p + "/") for p in prefixes):
            return family
    return None


# --------------------------------------------------------------------------------------------------
# Product lines: (sku prefix, brand, category key, unit, title with {n} (and optional {label}),
#                 "size:price_cents ...", extra synonyms separated by "|")
# --------------------------------------------------------------------------------------------------

_LINES: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    # laundry
    ("TIDE-PODS-ORIG", "Tide", "detergent", "count", "Tide PODS Laundry Detergent Pacs, Original, {n} Count",
     "42:1399 81:2499 112:3199", "laundry pods|tide pods|detergent pods"),
    ("TIDE-PODS-FREE", "Tide", "detergent", "count", "Tide PODS Free & Gentle Laundry Detergent Pacs, {n} Count",
     "42:1399 81:2499 112:3199", "laundry pods|tide pods|unscented detergent"),
    ("TIDE-LIQ-ORIG", "Tide", "detergent", "fl oz", "Tide Original Liquid Laundry Detergent, {n} fl oz",
     "64:1199 92:1499 154:2299", "liquid detergent|tide liquid"),
    ("TIDE-LIQ-FREE", "Tide", "detergent", "fl oz", "Tide Free & Gentle Liquid Laundry Detergent, {n} fl oz",
     "64:1199 92:1499 154:2299", "liquid detergent|unscented detergent"),
    ("TIDE-PWD-ORIG", "Tide", "detergent", "oz", "Tide Original Powder Laundry Detergent, {n} oz",
     "95:1599 143:2199", "washing powder|powder detergent"),
    ("PERSIL-LIQ-ORIG", "Persil", "detergent", "fl oz",
     "Persil ProClean Liquid Laundry Detergent, Original Scent, {n} fl oz",
     "82.5:1499 100:1699 150:2499", "liquid detergent"),
    ("PERSIL-DISCS", "Persil", "detergent", "count", "Persil Discs Laundry Detergent Pacs, Original Scent, {n} Count",
     "38:1499 62:2299 82:2799", "laundry pods|persil pods"),
    ("GAIN-LIQ-ORIG", "Gain", "detergent", "fl oz", "Gain Liquid Laundry Detergent, Original Scent, {n} fl oz",
     "64:999 92:1299 154:1999", "liquid detergent"),
    ("GAIN-FLINGS", "Gain", "detergent", "count", "Gain Flings Laundry Detergent Pacs, Original, {n} Count",
     "35:1199 60:1899 96:2699", "laundry pods|gain pods"),
    ("AH-LIQ-CLEAN", "Arm & Hammer", "detergent", "fl oz",
     "Arm & Hammer Clean Burst Liquid Laundry Detergent, {n} fl oz", "50:499 100:799 210:1499", "liquid detergent"),
    ("ALL-LIQ-FREE", "all", "detergent", "fl oz", "all Free Clear Liquid Laundry Detergent, {n} fl oz",
     "64:899 88:1099 141:1499", "liquid detergent|unscented detergent"),
    ("ALL-PACS-FREE", "all", "detergent", "count", "all Mighty Pacs Free Clear Laundry Detergent, {n} Count",
     "39:1199 60:1699", "laundry pods"),
    ("7GEN-LIQ-FREE", "Seventh Generation", "detergent", "fl oz",
     "Seventh Generation Liquid Laundry Detergent, Free & Clear, {n} fl oz", "45:899 90:1499 135:2099",
     "liquid detergent|eco detergent"),
    ("7GEN-PACKS-FREE", "Seventh Generation", "detergent", "count",
     "Seventh Generation Laundry Detergent Packs, Free & Clear, {n} Count", "20:899 45:1699", "laundry pods"),
    ("KS-LIQ-ULTRA", "Kirkland Signature", "detergent", "fl oz",
     "Kirkland Signature Ultra Clean HE Liquid Laundry Detergent, {n} fl oz", "194:1999", "liquid detergent"),
    ("KS-PACS-ULTRA", "Kirkland Signature", "detergent", "count",
     "Kirkland Signature Ultra Clean Laundry Detergent Pacs, {n} Count", "152:2499", "laundry pods"),
    ("GV-LIQ-ORIG", "Great Value", "detergent", "fl oz", "Great Value Liquid Laundry Detergent, Original Scent, {n} fl oz",
     "100:598 150:898", "liquid detergent"),
    ("DOWNY-ULTRA", "Downy", "softener", "fl oz", "Downy Ultra Liquid Fabric Softener, April Fresh, {n} fl oz",
     "56:699 90:999 140:1499", ""),
    ("DOWNY-UNSTOP", "Downy", "softener", "oz", "Downy Unstopables In-Wash Scent Booster Beads, Fresh, {n} oz",
     "10.5:899 20.1:1399 34:1999", "scent beads|scent booster"),
    ("SNUGGLE-LIQ", "Snuggle", "softener", "fl oz", "Snuggle Liquid Fabric Softener, Blue Sparkle, {n} fl oz",
     "64:599 96:799", ""),
    ("GAIN-SOFT", "Gain", "softener", "fl oz", "Gain Liquid Fabric Softener, Original, {n} fl oz",
     "51:599 100:999", ""),
    ("BOUNCE-OUTDOOR", "Bounce", "dryer", "sheets", "Bounce Dryer Sheets, Outdoor Fresh, {n} Count",
     "80:599 160:999 240:1299", "bounce sheets"),
    ("BOUNCE-FREE", "Bounce", "dryer", "sheets", "Bounce Free & Gentle Dryer Sheets, {n} Count",
     "160:999 240:1299", "unscented dryer sheets"),
    ("GAIN-SHEETS", "Gain", "dryer", "sheets", "Gain Dryer Sheets, Original, {n} Count", "120:799 240:1199", ""),
    ("DOWNY-SHEETS", "Downy", "dryer", "sheets", "Downy Infusions Dryer Sheets, Calm, {n} Count",
     "105:699 200:1099", ""),
    ("OXICLEAN-PWD", "OxiClean", "stain", "lb", "OxiClean Versatile Stain Remover Powder, {n} lb",
     "3:899 5:1199", "oxi clean|oxygen bleach"),
    ("OXICLEAN-SPRAY", "OxiClean", "stain", "fl oz", "OxiClean Max Force Laundry Stain Remover Spray, {n} fl oz",
     "12:499 24:799", ""),
    ("SHOUT-SPRAY", "Shout", "stain", "fl oz", "Shout Triple-Acting Laundry Stain Remover Spray, {n} fl oz",
     "22:449 60:899", ""),
    ("TIDE-TOGO", "Tide", "stain", "count", "Tide To Go Instant Stain Remover Pens, {n} Count",
     "3:799 5:1199", "stain pen"),
    # dish
    ("CASCADE-PLAT", "Cascade", "dishwasher", "count", "Cascade Platinum Plus Dishwasher Pods, Fresh, {n} Count",
     "36:1399 62:2199 81:2699", "cascade pods"),
    ("CASCADE-COMPLETE", "Cascade", "dishwasher", "count",
     "Cascade Complete ActionPacs Dishwasher Detergent, Fresh Scent, {n} Count", "37:1099 78:1999 90:2199",
     "cascade pods"),
    ("CASCADE-GEL", "Cascade", "dishwasher", "fl oz", "Cascade Complete Dishwasher Detergent Gel, Lemon, {n} fl oz",
     "75:899 120:1299", "dishwasher gel"),
    ("FINISH-QUANTUM", "Finish", "dishwasher", "count", "Finish Quantum Dishwasher Detergent Tablets, {n} Count",
     "45:1299 64:1699 82:2199", "finish tabs"),
    ("FINISH-ULTIMATE", "Finish", "dishwasher", "count",
     "Finish Ultimate Plus Dishwasher Detergent Tablets, {n} Count", "40:1499 62:2099", "finish tabs"),
    ("FINISH-POWERBALL", "Finish", "dishwasher", "count",
     "Finish All in 1 Powerball Dishwasher Detergent Tablets, Fresh, {n} Count", "54:1199 94:1799", "finish tabs"),
    ("7GEN-DW-PACKS", "Seventh Generation", "dishwasher", "count",
     "Seventh Generation Dishwasher Detergent Packs, Free & Clear, {n} Count", "20:699 45:1299", ""),
    ("KS-DW-PACS", "Kirkland Signature", "dishwasher", "count",
     "Kirkland Signature Platinum Performance UltraShine Dishwasher Detergent Pacs, {n} Count", "115:1699", ""),
    ("GV-DW-PACS", "Great Value", "dishwasher", "count", "Great Value Dishwasher Detergent Pacs, Lemon, {n} Count",
     "40:598 85:1098", ""),
    ("DAWN-ULTRA-ORIG", "Dawn", "dishsoap", "fl oz",
     "Dawn Ultra Dishwashing Liquid Dish Soap, Original Scent, {n} fl oz", "19.4:399 28:499 56:849", "dawn"),
    ("DAWN-PLAT", "Dawn", "dishsoap", "fl oz",
     "Dawn Platinum Dishwashing Liquid Dish Soap, Refreshing Rain, {n} fl oz", "24:499 34.2:649", "dawn"),
    ("DAWN-POWERWASH", "Dawn", "dishsoap", "fl oz", "Dawn Platinum Powerwash Dish Spray, Fresh Scent, {n} fl oz",
     "16:499 48:1199", "dish spray"),
    ("PALMOLIVE-ULTRA", "Palmolive", "dishsoap", "fl oz",
     "Palmolive Ultra Strength Liquid Dish Soap, Original, {n} fl oz", "20:299 32.5:449 52:649", ""),
    ("7GEN-DISH", "Seventh Generation", "dishsoap", "fl oz",
     "Seventh Generation Dish Liquid Soap, Free & Clear, {n} fl oz", "19:399 50:899", ""),
    ("MRSMEYERS-DISH", "Mrs. Meyer's", "dishsoap", "fl oz",
     "Mrs. Meyer's Clean Day Liquid Dish Soap, Lemon Verbena, {n} fl oz", "16:449 48:1199", ""),
    ("FINISH-JETDRY", "Finish", "rinse", "fl oz", "Finish Jet-Dry Rinse Aid, {n} fl oz", "8.45:599 16:999 23:1299", ""),
    ("CASCADE-RINSE", "Cascade", "rinse", "fl oz", "Cascade Power Dry Rinse Aid, {n} fl oz", "8.45:499 16:799", ""),
    # paper
    ("CHARMIN-ULTRA-SOFT", "Charmin", "tp", "rolls", "Charmin Ultra Soft Toilet Paper, {n} Mega Rolls",
     "12:1799 18:2499 24:3199", "charmin"),
    ("CHARMIN-ULTRA-STRONG", "Charmin", "tp", "rolls", "Charmin Ultra Strong Toilet Paper, {n} Mega Rolls",
     "12:1799 18:2499 24:3199", "charmin"),
    ("CHARMIN-ESSENTIALS", "Charmin", "tp", "rolls", "Charmin Essentials Soft Toilet Paper, {n} Mega Rolls",
     "12:1299 24:2299", "charmin"),
    ("COTTONELLE-ULTRA", "Cottonelle", "tp", "rolls", "Cottonelle Ultra Comfort Toilet Paper, {n} Family Mega Rolls",
     "6:999 12:1799 24:3299", ""),
    ("COTTONELLE-CLEAN", "Cottonelle", "tp", "rolls", "Cottonelle Ultra Clean Toilet Paper, {n} Family Mega Rolls",
     "12:1799 24:3299", ""),
    ("SCOTT-1000", "Scott", "tp", "rolls", "Scott 1000 Sheets Per Roll Toilet Paper, {n} Rolls",
     "12:1099 20:1599 36:2799", ""),
    ("SCOTT-COMFORTPLUS", "Scott", "tp", "rolls", "Scott ComfortPlus Toilet Paper, {n} Double Rolls",
     "12:799 24:1499", ""),
    ("ANGELSOFT", "Angel Soft", "tp", "rolls", "Angel Soft Toilet Paper, {n} Mega Rolls", "12:1199 24:2099", ""),
    ("KS-BATH", "Kirkland Signature", "tp", "rolls", "Kirkland Signature Bath Tissue, 2-Ply, {n} Rolls",
     "30:2399", ""),
    ("AB-TP", "Amazon Basics", "tp", "rolls", "Amazon Basics 2-Ply Toilet Paper, {n} Rolls", "30:2499", ""),
    ("7GEN-BATH", "Seventh Generation", "tp", "rolls", "Seventh Generation 100% Recycled Toilet Paper, {n} Rolls",
     "12:1199 24:2199", "recycled toilet paper"),
    ("BOUNTY-SAS", "Bounty", "towels", "rolls", "Bounty Select-A-Size Paper Towels, White, {n} Double Rolls",
     "6:1199 8:1599 12:2399", "bounty"),
    ("BOUNTY-SAS-TRIPLE", "Bounty", "towels", "rolls", "Bounty Select-A-Size Paper Towels, White, {n} Triple Rolls",
     "6:1999 12:3799", "bounty"),
    ("BRAWNY-TEAR", "Brawny", "towels", "rolls", "Brawny Tear-A-Square Paper Towels, {n} Double Rolls",
     "6:1099 12:1899", ""),
    ("SCOTT-TOWELS", "Scott", "towels", "rolls", "Scott Choose-A-Sheet Paper Towels, {n} Mega Rolls",
     "6:1099 12:1999", ""),
    ("VIVA-SIGNATURE", "Viva", "towels", "rolls", "Viva Signature Cloth Choose-A-Sheet Paper Towels, {n} Big Rolls",
     "6:1049 12:1899", ""),
    ("KS-TOWELS", "Kirkland Signature", "towels", "rolls", "Kirkland Signature Create-A-Size Paper Towels, {n} Rolls",
     "12:2399", ""),
    ("AB-TOWELS", "Amazon Basics", "towels", "rolls", "Amazon Basics 2-Ply Paper Towels, Flex-Sheets, {n} Value Rolls",
     "6:1399 12:2499", ""),
    ("KLEENEX-ULTRA", "Kleenex", "tissues", "count", "Kleenex Ultra Soft Facial Tissues, {n} Flat Boxes",
     "4:799 8:1499 12:2099", "tissue box"),
    ("KLEENEX-LOTION", "Kleenex", "tissues", "count", "Kleenex Soothing Lotion Facial Tissues, {n} Cube Boxes",
     "3:699 6:1299", "lotion tissues"),
    ("PUFFS-PLUS", "Puffs", "tissues", "count", "Puffs Plus Lotion Facial Tissues, {n} Family Boxes",
     "4:899 8:1599", "lotion tissues"),
    ("PUFFS-ULTRA", "Puffs", "tissues", "count", "Puffs Ultra Soft Facial Tissues, {n} Cube Boxes",
     "4:749 8:1399", ""),
    ("KS-TISSUE", "Kirkland Signature", "tissues", "count", "Kirkland Signature Facial Tissue, 2-Ply, {n} Boxes",
     "12:1999", ""),
    ("BOUNTY-NAPKINS", "Bounty", "napkins", "count", "Bounty Paper Napkins, White, {n} Count", "200:499 400:899", ""),
    ("VANITYFAIR", "Vanity Fair", "napkins", "count", "Vanity Fair Everyday Napkins, {n} Count", "120:399 300:799", ""),
    ("GV-NAPKINS", "Great Value", "napkins", "count", "Great Value Everyday Napkins, {n} Count", "250:247 500:448", ""),
    # cleaning
    ("LYSOL-APC", "Lysol", "apc", "fl oz", "Lysol All-Purpose Cleaner Spray, Lemon Breeze, {n} fl oz",
     "32:449 80:899", "lysol spray"),
    ("CLOROX-CLEANUP", "Clorox", "apc", "fl oz", "Clorox Clean-Up All Purpose Cleaner with Bleach Spray, {n} fl oz",
     "32:499 64:849", "bleach spray"),
    ("MRSMEYERS-MULTI", "Mrs. Meyer's", "apc", "fl oz",
     "Mrs. Meyer's Clean Day Multi-Surface Everyday Cleaner, Lavender, {n} fl oz", "16:499 32:849", ""),
    ("METHOD-APC", "Method", "apc", "fl oz", "Method All-Purpose Cleaner Spray, Pink Grapefruit, {n} fl oz",
     "28:449 68:999", ""),
    ("7GEN-APC", "Seventh Generation", "apc", "fl oz", "Seventh Generation All Purpose Cleaner, Free & Clear, {n} fl oz",
     "23:499", ""),
    ("LYSOL-WIPES", "Lysol", "wipes", "count", "Lysol Disinfecting Wipes, Lemon & Lime Blossom, {n} Count",
     "80:549 240:1499", "lysol wipes"),
    ("CLOROX-WIPES", "Clorox", "wipes", "count", "Clorox Disinfecting Wipes, Fresh Scent, {n} Count",
     "75:599 225:1499 340:1999", ""),
    ("GLAD-FORCEFLEX", "Glad", "trash", "count",
     "Glad ForceFlex Tall Kitchen Drawstring Trash Bags, 13 Gallon, {n} Count", "40:999 80:1699 120:2199",
     "kitchen bags"),
    ("GLAD-LARGE", "Glad", "trash", "count", "Glad Large Drawstring Trash Bags, 30 Gallon, {n} Count",
     "28:999 50:1599", "outdoor trash bags"),
    ("HEFTY-ULTRA", "Hefty", "trash", "count", "Hefty Ultra Strong Tall Kitchen Trash Bags, 13 Gallon, {n} Count",
     "40:899 80:1499 90:1699", "kitchen bags"),
    ("HEFTY-LARGE", "Hefty", "trash", "count", "Hefty Strong Large Trash Bags, 30 Gallon, {n} Count",
     "28:899 56:1599", "outdoor trash bags"),
    ("KS-TRASH", "Kirkland Signature", "trash", "count",
     "Kirkland Signature Flex-Tech 13-Gallon Kitchen Trash Bags, {n} Count", "200:1999", "kitchen bags"),
    ("AB-TRASH", "Amazon Basics", "trash", "count",
     "Amazon Basics Tall Kitchen Drawstring Trash Bags, 13 Gallon, {n} Count", "50:899 120:1699", "kitchen bags"),
    ("SCOTCHBRITE-HD", "Scotch-Brite", "sponges", "count", "Scotch-Brite Heavy Duty Scrub Sponges, {n} Count",
     "3:399 6:699 9:899", "scrub sponges"),
    ("SCOTCHBRITE-NS", "Scotch-Brite", "sponges", "count", "Scotch-Brite Non-Scratch Scrub Sponges, {n} Count",
     "3:399 6:699 9:899", "scrub sponges"),
    ("OCELO-HANDY", "O-Cel-O", "sponges", "count", "O-Cel-O Handy Sponges, {n} Count", "4:399 12:999", ""),
    ("MRCLEAN-ERASER", "Mr. Clean", "sponges", "count", "Mr. Clean Magic Eraser Original, {n} Count",
     "4:549 9:999", "magic eraser"),
    # coffee
    ("SBUX-PIKE-WB", "Starbucks", "beans", "oz",
     "Starbucks Whole Bean Coffee, Pike Place Roast, Medium Roast, {n} oz", "12:999 18:1399 28:1999", ""),
    ("SBUX-FRENCH-WB", "Starbucks", "beans", "oz",
     "Starbucks Whole Bean Coffee, French Roast, Dark Roast, {n} oz", "12:999 18:1399 28:1999", ""),
    ("PEETS-MAJOR-WB", "Peet's", "beans", "oz",
     "Peet's Coffee Major Dickason's Blend Whole Bean Coffee, Dark Roast, {n} oz", "10.5:999 18:1499 32:2499", ""),
    ("PEETS-BIGBANG-WB", "Peet's", "beans", "oz",
     "Peet's Coffee Big Bang Whole Bean Coffee, Medium Roast, {n} oz", "10.5:999 18:1499", ""),
    ("LAVAZZA-SC-WB", "Lavazza", "beans", "oz",
     "Lavazza Super Crema Whole Bean Coffee, Medium Espresso Roast, {n} oz", "35.2:2199", "espresso beans"),
    ("LAVAZZA-QR-WB", "Lavazza", "beans", "oz", "Lavazza Qualita Rossa Whole Bean Coffee, Medium Roast, {n} oz",
     "35.2:1999", "espresso beans"),
    ("STUMPTOWN-HB-WB", "Stumptown", "beans", "oz", "Stumptown Hair Bender Whole Bean Coffee, {n} oz",
     "12:1499", ""),
    ("KS-COLOMBIA-WB", "Kirkland Signature", "beans", "lb",
     "Kirkland Signature Colombian Supremo Whole Bean Coffee, {n} lb", "3:1999", ""),
    ("FOLGERS-CLASSIC", "Folgers", "ground", "oz", "Folgers Classic Roast Ground Coffee, Medium Roast, {n} oz",
     "25.9:1099 43.5:1599 51:1799", ""),
    ("MAXWELL-ORIG", "Maxwell House", "ground", "oz",
     "Maxwell House The Original Roast Ground Coffee, Medium Roast, {n} oz", "11.5:599 30.6:1199 42.5:1499", ""),
    ("SBUX-PIKE-GR", "Starbucks", "ground", "oz", "Starbucks Ground Coffee, Pike Place Roast, Medium Roast, {n} oz",
     "12:999 18:1399 28:1999", ""),
    ("PEETS-MAJOR-GR", "Peet's", "ground", "oz",
     "Peet's Coffee Major Dickason's Blend Ground Coffee, Dark Roast, {n} oz", "10.5:999 18:1499", ""),
    ("DUNKIN-ORIG-GR", "Dunkin'", "ground", "oz", "Dunkin' Original Blend Ground Coffee, Medium Roast, {n} oz",
     "12:899 20:1199 30:1699", ""),
    ("BUSTELO-GR", "Cafe Bustelo", "ground", "oz", "Cafe Bustelo Espresso Style Dark Roast Ground Coffee, {n} oz",
     "10:499 36:1299", ""),
    ("GV-CLASSIC-GR", "Great Value", "ground", "oz", "Great Value Classic Roast Medium Ground Coffee, {n} oz",
     "30.5:798 48:1198", ""),
    ("GMCR-BREAKFAST-KCUP", "Green Mountain", "kcup", "pods",
     "Green Mountain Coffee Roasters Breakfast Blend K-Cup Coffee Pods, Light Roast, {n} Count",
     "24:1699 48:2999 72:3999", ""),
    ("GMCR-NANTUCKET-KCUP", "Green Mountain", "kcup", "pods",
     "Green Mountain Coffee Roasters Nantucket Blend K-Cup Coffee Pods, Medium Roast, {n} Count",
     "24:1699 48:2999", ""),
    ("SBUX-PIKE-KCUP", "Starbucks", "kcup", "pods", "Starbucks K-Cup Coffee Pods, Pike Place Roast, {n} Count",
     "22:1699 32:2299 60:3999", ""),
    ("PEETS-MAJOR-KCUP", "Peet's", "kcup", "pods",
     "Peet's Coffee Major Dickason's Blend K-Cup Coffee Pods, Dark Roast, {n} Count", "22:1599 75:4499", ""),
    ("FOLGERS-KCUP", "Folgers", "kcup", "pods", "Folgers Classic Roast K-Cup Coffee Pods, {n} Count",
     "24:1299 48:2299", ""),
    ("DUNKIN-KCUP", "Dunkin'", "kcup", "pods", "Dunkin' Original Blend K-Cup Coffee Pods, {n} Count",
     "22:1499 44:2599", ""),
    ("MAXWELL-KCUP", "Maxwell House", "kcup", "pods", "Maxwell House The Original Roast K-Cup Coffee Pods, {n} Count",
     "24:1299 84:3499", ""),
    ("KS-PACIFIC-KCUP", "Kirkland Signature", "kcup", "pods", "Kirkland Signature Pacific Bold K-Cup Pods, {n} Count",
     "120:4199", ""),
    ("NESP-OL-RISTRETTO", "Nespresso", "espresso", "pods",
     "Nespresso OriginalLine Ristretto Espresso Capsules, {n} Count", "10:849 50:3999", ""),
    ("NESP-OL-ARPEGGIO", "Nespresso", "espresso", "pods",
     "Nespresso OriginalLine Ispirazione Firenze Arpeggio Espresso Capsules, {n} Count", "10:849 50:3999", ""),
    ("NESP-VL-MELOZIO", "Nespresso", "espresso", "pods", "Nespresso Vertuo Melozio Coffee Capsules, {n} Count",
     "10:1099 30:3199", "vertuo pods"),
    ("NESP-VL-DOUBLE", "Nespresso", "espresso", "pods",
     "Nespresso Vertuo Double Espresso Chiaro Capsules, {n} Count", "10:1199 30:3399", "vertuo pods"),
    ("LAVAZZA-OL-CAPS", "Lavazza", "espresso", "pods",
     "Lavazza Espresso Classico Capsules, Nespresso Original Compatible, {n} Count", "10:599 60:3199", ""),
    ("SBUX-NESP-ESPRESSO", "Starbucks", "espresso", "pods",
     "Starbucks by Nespresso Espresso Roast Capsules, {n} Count", "10:699 50:3299", ""),
    ("PEETS-NESP-RISTRETTO", "Peet's", "espresso", "pods",
     "Peet's Coffee Ristretto Espresso Capsules, Nespresso Original Compatible, {n} Count", "10:649 40:2399", ""),
    # pet
    ("PPP-ADULT-CHKRICE", "Purina Pro Plan", "dogdry", "lb",
     "Purina Pro Plan Adult Dry Dog Food, Chicken & Rice Formula, {n} lb Bag", "6:1899 18:4999 35:7899",
     "pro plan"),
    ("PPP-SENSITIVE", "Purina Pro Plan", "dogdry", "lb",
     "Purina Pro Plan Sensitive Skin and Stomach Dry Dog Food, Salmon & Rice, {n} lb Bag",
     "4:1699 16:5299 30:8299", "pro plan"),
    ("BLUE-LIFEPROT", "Blue Buffalo", "dogdry", "lb",
     "Blue Buffalo Life Protection Formula Adult Dry Dog Food, Chicken and Brown Rice, {n} lb Bag",
     "6:1999 15:4399 30:6999", ""),
    ("BLUE-WILDERNESS", "Blue Buffalo", "dogdry", "lb",
     "Blue Buffalo Wilderness High Protein Adult Dry Dog Food, Chicken, {n} lb Bag", "4.5:1999 11:4299 24:7499",
     "grain free dog food"),
    ("PEDIGREE-ADULT", "Pedigree", "dogdry", "lb",
     "Pedigree Complete Nutrition Adult Dry Dog Food, Roasted Chicken, Rice & Vegetable, {n} lb Bag",
     "14:1599 30:2799 44:3499", ""),
    ("PURINA-DOGCHOW", "Purina", "dogdry", "lb", "Purina Dog Chow Complete Adult Dry Dog Food, Chicken, {n} lb Bag",
     "18.5:1799 44:3299", "dog chow"),
    ("HILLS-SD-ADULT", "Hill's Science Diet", "dogdry", "lb",
     "Hill's Science Diet Adult Dry Dog Food, Chicken & Barley, {n} lb Bag", "5:2199 15:5299 35:8999", ""),
    ("KS-DOG-SALMON", "Kirkland Signature", "dogdry", "lb",
     "Kirkland Signature Nature's Domain Salmon Meal & Sweet Potato Dog Food, {n} lb", "35:4599", ""),
    ("PPP-WET-CHKRICE", "Purina Pro Plan", "dogwet", "count",
     "Purina Pro Plan Adult Wet Dog Food, Chicken & Rice Entree, 13 oz Cans, {n} Count", "12:2999", ""),
    ("PEDIGREE-CHOPPED", "Pedigree", "dogwet", "count",
     "Pedigree Chopped Ground Dinner Wet Dog Food Variety Pack, 13.2 oz Cans, {n} Count", "12:1999 24:3599", ""),
    ("BLUE-HOMESTYLE", "Blue Buffalo", "dogwet", "count",
     "Blue Buffalo Homestyle Recipe Adult Wet Dog Food, Chicken Dinner, 12.5 oz Cans, {n} Count", "12:3299", ""),
    ("CESAR-CLASSICS", "Cesar", "dogwet", "count",
     "Cesar Classic Loaf in Sauce Wet Dog Food Variety Pack, 3.5 oz Trays, {n} Count", "12:1199 24:2199 36:2999",
     ""),
    ("MILKBONE-ORIG", "Milk-Bone", "dogtreats", "oz", "Milk-Bone Original Dog Treat Biscuits, Medium, {n} oz",
     "24:549 64:1199", ""),
    ("GREENIES-REG", "Greenies", "dogtreats", "oz", "Greenies Original Regular Natural Dental Dog Treats, {n} oz",
     "12:1499 27:2999 36:3999", "dental chews"),
    ("PEDIGREE-DENTASTIX", "Pedigree", "dogtreats", "count",
     "Pedigree Dentastix Large Dog Dental Treats, Original, {n} Count", "32:1399 52:1999", "dental chews"),
    ("BLUE-BITS", "Blue Buffalo", "dogtreats", "oz",
     "Blue Buffalo Blue Bits Soft-Moist Training Dog Treats, Chicken, {n} oz", "4:699 11:1299", "training treats"),
    ("FANCYFEAST-PATE", "Fancy Feast", "catfood", "count",
     "Fancy Feast Classic Pate Wet Cat Food Variety Pack, 3 oz Cans, {n} Count", "12:1199 24:2199 30:2699",
     "wet cat food"),
    ("FANCYFEAST-GRAVY", "Fancy Feast", "catfood", "count",
     "Fancy Feast Gravy Lovers Wet Cat Food Variety Pack, 3 oz Cans, {n} Count", "12:1199 24:2199",
     "wet cat food"),
    ("FRISKIES-PATE", "Friskies", "catfood", "count",
     "Friskies Pate Wet Cat Food Variety Pack, 5.5 oz Cans, {n} Count", "12:1099 24:1999 32:2599",
     "wet cat food"),
    ("PPP-CAT-CHKRICE", "Purina Pro Plan", "catfood", "lb",
     "Purina Pro Plan Adult Dry Cat Food, Chicken & Rice Formula, {n} lb Bag", "3.5:1799 7:2999 16:5599",
     "dry cat food"),
    ("BLUE-CAT-INDOOR", "Blue Buffalo", "catfood", "lb",
     "Blue Buffalo Indoor Health Adult Dry Cat Food, Chicken & Brown Rice, {n} lb Bag", "5:2199 15:4699",
     "dry cat food"),
    ("MEOWMIX-ORIG", "Meow Mix", "catfood", "lb", "Meow Mix Original Choice Dry Cat Food, {n} lb Bag",
     "6.3:999 16:1999 30:3299", "dry cat food"),
    ("TIDYCATS-LW", "Tidy Cats", "litter", "lb",
     "Tidy Cats LightWeight Clumping Cat Litter, 24/7 Performance, {n} lb", "8.5:999 17:1599", "clumping litter"),
    ("TIDYCATS-MULTI", "Tidy Cats", "litter", "lb",
     "Tidy Cats Clumping Cat Litter, 24/7 Performance Multi-Cat, {n} lb", "20:1199 40:1999", "clumping litter"),
    ("FRESHSTEP-OUTSTRETCH", "Fresh Step", "litter", "lb",
     "Fresh Step Outstretch Clumping Cat Litter, Advanced, {n} lb", "10:1299 19:2199 32:3299", "clumping litter"),
    ("FRESHSTEP-MULTI", "Fresh Step", "litter", "lb", "Fresh Step Multi-Cat Clumping Cat Litter, Scented, {n} lb",
     "14:1099 25:1699 42:2499", "clumping litter"),
    ("AH-CLUMPSEAL", "Arm & Hammer", "litter", "lb",
     "Arm & Hammer Clump & Seal Platinum Cat Litter, Multi-Cat, {n} lb", "14:1299 28:2299 40:2999",
     "clumping litter"),
    ("WORLDSBEST-MULTI", "World's Best", "litter", "lb",
     "World's Best Cat Litter Multiple Cat Clumping Formula, {n} lb", "8:1599 15:2599 28:4199", "corn litter"),
    ("TEMPTATIONS-CHICKEN", "Temptations", "cattreats", "oz",
     "Temptations Classic Crunchy and Soft Cat Treats, Tasty Chicken Flavor, {n} oz", "3:299 6.3:549 16:1099", ""),
    ("INABA-CHURU", "Inaba", "cattreats", "count", "Inaba Churu Lickable Cat Treats, Tuna Variety, {n} Count",
     "20:1299 50:2999", "churu"),
    # baby (diapers are generated below)
    ("PAMPERS-WIPES-SENS", "Pampers", "babywipes", "count", "Pampers Sensitive Baby Wipes, Fragrance Free, {n} Count",
     "336:1299 672:2399 1008:3299", ""),
    ("HUGGIES-WIPES-NAT", "Huggies", "babywipes", "count",
     "Huggies Natural Care Sensitive Baby Wipes, Unscented, {n} Count", "384:1399 768:2599", ""),
    ("WATERWIPES-ORIG", "WaterWipes", "babywipes", "count",
     "WaterWipes Plastic-Free Original Baby Wipes, 99.9% Water Based, {n} Count", "240:1399 540:2799", ""),
    ("KS-BABYWIPES", "Kirkland Signature", "babywipes", "count",
     "Kirkland Signature Baby Wipes, Fragrance Free, {n} Count", "900:2499", ""),
    ("SIMILAC-360", "Similac", "formula", "oz", "Similac 360 Total Care Infant Formula Powder, {n} oz",
     "20.6:3999 30.8:5499", ""),
    ("SIMILAC-PROADV", "Similac", "formula", "oz", "Similac Pro-Advance Infant Formula Powder, {n} oz",
     "20.6:3699 36:5899", ""),
    ("ENFAMIL-NEUROPRO", "Enfamil", "formula", "oz", "Enfamil NeuroPro Infant Formula Powder, {n} oz",
     "20.7:4099 31.4:5799", ""),
    ("ENFAMIL-GENTLEASE", "Enfamil", "formula", "oz", "Enfamil Gentlease Infant Formula Powder, {n} oz",
     "19.9:3699 27.7:4999", "gentle formula"),
    ("KS-PROCARE", "Kirkland Signature", "formula", "oz",
     "Kirkland Signature ProCare Non-GMO Infant Formula Powder, {n} oz", "42:3799", ""),
    # personal care
    ("PANTENE-DMR-SH", "Pantene", "shampoo", "fl oz", "Pantene Pro-V Daily Moisture Renewal Shampoo, {n} fl oz",
     "10.4:599 17.9:899 38.2:1399", ""),
    ("HS-CLASSIC-SH", "Head & Shoulders", "shampoo", "fl oz",
     "Head & Shoulders Classic Clean Anti-Dandruff Shampoo, {n} fl oz", "13.5:799 20.7:1099 32.1:1499",
     "dandruff shampoo"),
    ("DOVE-DM-SH", "Dove", "shampoo", "fl oz", "Dove Daily Moisture Shampoo, {n} fl oz", "12:599 20.4:899", ""),
    ("HERBAL-ARGAN-SH", "Herbal Essences", "shampoo", "fl oz",
     "Herbal Essences Bio:Renew Argan Oil Shampoo, {n} fl oz", "13.5:699 29.2:1199", ""),
    ("TRESEMME-MR-SH", "TRESemme", "shampoo", "fl oz", "TRESemme Moisture Rich Shampoo, {n} fl oz",
     "28:699 39:899", ""),
    ("PANTENE-DMR-CO", "Pantene", "conditioner", "fl oz",
     "Pantene Pro-V Daily Moisture Renewal Conditioner, {n} fl oz", "10.4:599 17.9:899 38.2:1399", ""),
    ("HS-CLASSIC-CO", "Head & Shoulders", "conditioner", "fl oz",
     "Head & Shoulders Classic Clean Conditioner, {n} fl oz", "12.8:799 20.7:1099", ""),
    ("DOVE-DM-CO", "Dove", "conditioner", "fl oz", "Dove Daily Moisture Conditioner, {n} fl oz",
     "12:599 20.4:899", ""),
    ("TRESEMME-MR-CO", "TRESemme", "conditioner", "fl oz", "TRESemme Moisture Rich Conditioner, {n} fl oz",
     "28:699 39:899", ""),
    ("DOVE-DEEP-BW", "Dove", "bodywash", "fl oz", "Dove Deep Moisture Body Wash, {n} fl oz", "22:799 34:1199", ""),
    ("DOVE-MEN-BW", "Dove", "bodywash", "fl oz", "Dove Men+Care Clean Comfort Body Wash, {n} fl oz",
     "18:699 26.5:999", "mens body wash"),
    ("OLAY-ULTRA-BW", "Olay", "bodywash", "fl oz", "Olay Ultra Moisture Body Wash with Shea Butter, {n} fl oz",
     "22:799 33.8:1099", ""),
    ("DIAL-SPRING-BW", "Dial", "bodywash", "fl oz", "Dial Spring Water Body Wash, {n} fl oz", "21:499 32:699", ""),
    ("OLDSPICE-SWAG-BW", "Old Spice", "bodywash", "fl oz", "Old Spice Swagger Body Wash for Men, {n} fl oz",
     "16:599 30:899", "mens body wash"),
    ("DEGREE-MEN-COOL", "Degree", "deodorant", "count",
     "Degree Men Original Antiperspirant Deodorant, Cool Rush, 2.7 oz, {n} Pack", "1:549 2:899 3:1199", ""),
    ("DOVE-DEO-ORIG", "Dove", "deodorant", "count",
     "Dove Advanced Care Antiperspirant Deodorant Stick, Original Clean, 2.6 oz, {n} Pack", "1:699 2:1199 4:1999",
     ""),
    ("SECRET-INV", "Secret", "deodorant", "count",
     "Secret Invisible Solid Antiperspirant Deodorant, Powder Fresh, 2.6 oz, {n} Pack", "1:549 3:1399", ""),
    ("NATIVE-COCO", "Native", "deodorant", "count",
     "Native Deodorant, Coconut & Vanilla, Aluminum Free, 2.65 oz, {n} Pack", "1:1299 3:3399",
     "natural deodorant"),
    ("OLDSPICE-HE-DEO", "Old Spice", "deodorant", "count",
     "Old Spice High Endurance Deodorant for Men, Pure Sport, 3 oz, {n} Pack", "1:499 2:849 3:1199", ""),
    ("COLGATE-TOTAL", "Colgate", "toothpaste", "count", "Colgate Total Whitening Toothpaste, 5.1 oz, {n} Pack",
     "1:499 2:899 4:1599", ""),
    ("COLGATE-OPTIC", "Colgate", "toothpaste", "count",
     "Colgate Optic White Advanced Teeth Whitening Toothpaste, 3.2 oz, {n} Pack", "1:599 3:1499",
     "whitening toothpaste"),
    ("CREST-PROHEALTH", "Crest", "toothpaste", "count",
     "Crest Pro-Health Advanced Gum Protection Toothpaste, 5.1 oz, {n} Pack", "1:549 2:999 3:1399", ""),
    ("CREST-3D", "Crest", "toothpaste", "count", "Crest 3D White Brilliance Toothpaste, 4.6 oz, {n} Pack",
     "1:599 2:1099", "whitening toothpaste"),
    ("SENSODYNE-PRONAMEL", "Sensodyne", "toothpaste", "count",
     "Sensodyne Pronamel Gentle Whitening Toothpaste, 4 oz, {n} Pack", "1:699 2:1299 3:1799",
     "sensitive toothpaste"),
    ("TOMS-ANTIPLAQUE", "Tom's of Maine", "toothpaste", "count",
     "Tom's of Maine Fluoride-Free Antiplaque & Whitening Toothpaste, Spearmint, 5.5 oz, {n} Pack",
     "1:599 3:1499", "natural toothpaste"),
    ("ORALB-CROSS", "Oral-B", "brushheads", "count",
     "Oral-B CrossAction Electric Toothbrush Replacement Brush Heads, {n} Count", "3:2499 5:3699 8:4999", ""),
    ("ORALB-PRECISION", "Oral-B", "brushheads", "count",
     "Oral-B Precision Clean Electric Toothbrush Replacement Brush Heads, {n} Count", "4:2499 8:3999", ""),
    ("SONICARE-C2", "Philips Sonicare", "brushheads", "count",
     "Philips Sonicare Genuine C2 Optimal Plaque Control Replacement Toothbrush Heads, {n} Count",
     "3:2999 5:4499", "sonicare heads"),
    ("SONICARE-W2", "Philips Sonicare", "brushheads", "count",
     "Philips Sonicare Genuine W2 Optimal White Replacement Toothbrush Heads, {n} Count", "3:3299 4:3999",
     "sonicare heads"),
    ("GILLETTE-FUSION5", "Gillette", "razors", "count", "Gillette Fusion5 Men's Razor Blade Refills, {n} Count",
     "4:2199 8:3599 12:4999", "fusion blades"),
    ("GILLETTE-MACH3", "Gillette", "razors", "count", "Gillette Mach3 Men's Razor Blade Refills, {n} Count",
     "5:1699 10:2799 15:3799", "mach3 blades"),
    ("GILLETTE-VENUS", "Gillette", "razors", "count", "Gillette Venus Smooth Women's Razor Blade Refills, {n} Count",
     "4:1599 6:2199", "venus blades"),
    ("GILLETTE-SENSOR3", "Gillette", "razors", "count", "Gillette Sensor3 Men's Disposable Razors, {n} Count",
     "4:899 8:1499 12:1999", "disposable razors"),
    ("SCHICK-HYDRO5", "Schick", "razors", "count", "Schick Hydro 5 Sense Hydrate Razor Refills for Men, {n} Count",
     "4:1399 8:2299", ""),
    ("HARRYS-BLADES", "Harry's", "razors", "count", "Harry's Men's Razor Blade Refills, {n} Count",
     "8:1599 16:2999", ""),
    # appliance consumables
    ("EVERYDROP-F1", "Whirlpool EveryDrop", "fridgefilter", "count",
     "EveryDrop by Whirlpool Ice and Water Refrigerator Filter 1, EDR1RXD1, {n} Pack", "1:5499 2:9999 3:13999",
     "everydrop filter|whirlpool filter"),
    ("EVERYDROP-F3", "Whirlpool EveryDrop", "fridgefilter", "count",
     "EveryDrop by Whirlpool Ice and Water Refrigerator Filter 3, EDR3RXD1, {n} Pack", "1:4999 2:8999",
     "everydrop filter|whirlpool filter"),
    ("EVERYDROP-F4", "Whirlpool EveryDrop", "fridgefilter", "count",
     "EveryDrop by Whirlpool Ice and Water Refrigerator Filter 4, EDR4RXD1, {n} Pack", "1:5499 2:9999",
     "everydrop filter|whirlpool filter"),
    ("GE-MWF", "GE", "fridgefilter", "count", "GE MWF SmartWater Refrigerator Water Filter, {n} Pack",
     "1:5299 2:9699 3:13499", ""),
    ("SAMSUNG-DA29", "Samsung", "fridgefilter", "count",
     "Samsung DA29-00020B Refrigerator Water Filter, {n} Pack", "1:4999 3:12999", ""),
    ("LG-LT700P", "LG", "fridgefilter", "count", "LG LT700P Refrigerator Water Filter, {n} Pack",
     "1:4999 2:8999", ""),
    ("BRITA-STD", "Brita", "pitcherfilter", "count",
     "Brita Standard Water Filter Replacements for Pitchers and Dispensers, {n} Count", "3:1499 6:2599 10:3999",
     ""),
    ("BRITA-ELITE", "Brita", "pitcherfilter", "count",
     "Brita Elite Water Filter Replacements for Pitchers and Dispensers, {n} Count", "1:1699 2:2999 4:5499", ""),
    ("PUR-PITCHER", "PUR", "pitcherfilter", "count", "PUR Plus Water Pitcher Replacement Filter, {n} Pack",
     "2:1999 3:2699 6:4999", "pur filter"),
    ("ZEROWATER-5STAGE", "ZeroWater", "pitcherfilter", "count",
     "ZeroWater 5-Stage Replacement Water Filter, {n} Pack", "2:2999 4:5499 8:9999", ""),
    ("PUR-FAUCET", "PUR", "faucetfilter", "count", "PUR Plus Faucet Mount Replacement Filter, {n} Pack",
     "1:2299 2:3999 3:5299", "pur filter"),
    ("BRITA-FAUCET", "Brita", "faucetfilter", "count",
     "Brita Faucet Mount Water Filter Replacement, {n} Count", "1:1999 2:3499", ""),
    ("HP-67-BLK", "HP", "ink", "count", "HP 67 Black Original Ink Cartridge, {n} Count", "1:1999 2:3699", "hp ink"),
    ("HP-67XL-BLK", "HP", "ink", "count", "HP 67XL Black High-yield Original Ink Cartridge, {n} Count",
     "1:3599 2:6799", "hp ink"),
    ("HP-67-TRI", "HP", "ink", "count", "HP 67 Tri-color Original Ink Cartridge, {n} Count", "1:2299", "hp ink|color ink"),
    ("HP-67XL-TRI", "HP", "ink", "count", "HP 67XL Tri-color High-yield Original Ink Cartridge, {n} Count",
     "1:3999", "hp ink|color ink"),
    ("HP-910XL-BLK", "HP", "ink", "count", "HP 910XL Black High-yield Original Ink Cartridge, {n} Count",
     "1:4399 2:8299", "hp ink"),
    ("HP-910-CMY", "HP", "ink", "count", "HP 910 Cyan, Magenta, Yellow Original Ink Cartridges, {n} Count",
     "3:4499", "hp ink|color ink"),
    ("EPSON-522-BLK", "Epson", "ink", "count", "Epson EcoTank 522 Black Ink Bottle, {n} Count", "1:1999 2:3799",
     "epson ink|ink bottle"),
    ("EPSON-522-CMY", "Epson", "ink", "count", "Epson EcoTank 522 Color Ink Bottles, Cyan, Magenta, Yellow, {n} Count",
     "3:4799", "epson ink|color ink|ink bottle"),
    ("EPSON-220XL-BLK", "Epson", "ink", "count", "Epson 220XL High-capacity Black Ink Cartridge, {n} Count",
     "1:3499 2:6599", "epson ink"),
    ("CANON-PG245-BLK", "Canon", "ink", "count", "Canon PG-245 Black Ink Cartridge, {n} Count", "1:2199 2:3999",
     "canon ink"),
    ("CANON-CL246-CLR", "Canon", "ink", "count", "Canon CL-246 Color Ink Cartridge, {n} Count", "1:2499",
     "canon ink|color ink"),
    ("BROTHER-LC3013-BLK", "Brother", "ink", "count", "Brother LC3013BK High-yield Black Ink Cartridge, {n} Count",
     "1:2899 2:5499", "brother ink"),
    ("BROTHER-TN760", "Brother", "toner", "count", "Brother TN760 High-yield Black Toner Cartridge, {n} Count",
     "1:8499 2:15999", "brother toner"),
    ("BROTHER-TN730", "Brother", "toner", "count", "Brother TN730 Standard-yield Black Toner Cartridge, {n} Count",
     "1:5499", "brother toner"),
    ("HP-58A", "HP", "toner", "count", "HP 58A Black Original LaserJet Toner Cartridge, CF258A, {n} Count",
     "1:12999", "hp toner"),
    ("HP-26A", "HP", "toner", "count", "HP 26A Black Original LaserJet Toner Cartridge, CF226A, {n} Count",
     "1:12999 2:24999", "hp toner"),
    ("CANON-055-BLK", "Canon", "toner", "count", "Canon 055 Black Toner Cartridge, {n} Count", "1:8999",
     "canon toner"),
    ("NESP-DESCALE", "Nespresso", "descaler", "count", "Nespresso Descaling Kit, {n} Count", "1:1899 2:3499",
     "nespresso descaler"),
    ("KEURIG-DESCALE", "Keurig", "descaler", "count", "Keurig Descaling Solution, 14 fl oz, {n} Count",
     "1:1399 2:2499", "keurig descaler"),
    ("DELONGHI-ECODECALK", "De'Longhi", "descaler", "fl oz", "De'Longhi EcoDecalk Natural Descaler, {n} fl oz",
     "16.9:1999 33.8:3499", "espresso machine descaler"),
    ("URNEX-DEZCAL", "Urnex", "descaler", "oz", "Urnex Dezcal Coffee and Espresso Machine Descaler Powder, {n} oz",
     "9:1299 28:2999", ""),
    ("MIELE-GN", "Miele", "vacbags", "count", "Miele AirClean 3D Efficiency GN Vacuum Bags, {n} Count",
     "4:2199 8:3999", "miele bags"),
    ("MIELE-FJM", "Miele", "vacbags", "count", "Miele AirClean 3D Efficiency FJM Vacuum Bags, {n} Count",
     "4:1999 8:3699", "miele bags"),
    ("HOOVER-TYPE-Y", "Hoover", "vacbags", "count", "Hoover Type Y HEPA Vacuum Bags, {n} Count", "2:999 6:2199", ""),
    ("KENMORE-CQ", "Kenmore", "vacbags", "count", "Kenmore Type C/Q HEPA Vacuum Bags, {n} Count",
     "3:999 6:1799", ""),
    ("FILTRETE-16X25X1-MPR1000", "Filtrete", "hvac", "count",
     "Filtrete 16x25x1 Air Filter, MPR 1000 Micro Allergen Defense, {n} Pack", "1:1599 2:2799 4:4999 6:6999",
     "16x25x1 filter"),
    ("FILTRETE-20X20X1-MPR1000", "Filtrete", "hvac", "count",
     "Filtrete 20x20x1 Air Filter, MPR 1000 Micro Allergen Defense, {n} Pack", "1:1599 2:2799 4:4999",
     "20x20x1 filter"),
    ("FILTRETE-20X25X1-MPR1500", "Filtrete", "hvac", "count",
     "Filtrete 20x25x1 Air Filter, MPR 1500 Healthy Living Ultra Allergen, {n} Pack", "1:2299 2:3999 4:6999",
     "20x25x1 filter"),
    ("FILTRETE-14X20X1-MPR600", "Filtrete", "hvac", "count",
     "Filtrete 14x20x1 Air Filter, MPR 600 Dust Reduction, {n} Pack", "1:1099 4:3299", "14x20x1 filter"),
    ("HONEYWELL-16X25X1-M11", "Honeywell", "hvac", "count",
     "Honeywell 16x25x1 MERV 11 Allergen Plus Air Filter, {n} Pack", "1:1399 4:4299", "16x25x1 filter"),
    ("AB-16X25X1-M8", "Amazon Basics", "hvac", "count",
     "Amazon Basics 16x25x1 MERV 8 AC Furnace Air Filter, {n} Pack", "6:3499", "16x25x1 filter"),
    ("DURACELL-AA", "Duracell", "aa", "count", "Duracell Coppertop AA Alkaline Batteries, {n} Count",
     "8:999 20:1999 28:2499", ""),
    ("DURACELL-AAA", "Duracell", "aaa", "count", "Duracell Coppertop AAA Alkaline Batteries, {n} Count",
     "8:999 20:1999 28:2499", ""),
    ("ENERGIZER-MAX-AA", "Energizer", "aa", "count", "Energizer MAX AA Alkaline Batteries, {n} Count",
     "8:899 24:2199 48:3799", ""),
    ("ENERGIZER-MAX-AAA", "Energizer", "aaa", "count", "Energizer MAX AAA Alkaline Batteries, {n} Count",
     "8:899 24:2199", ""),
    ("ENERGIZER-LITH-AA", "Energizer", "aa", "count", "Energizer Ultimate Lithium AA Batteries, {n} Count",
     "4:1199 8:2199 12:2999", "lithium batteries"),
    ("AB-AA", "Amazon Basics", "aa", "count", "Amazon Basics AA 1.5 Volt Performance Alkaline Batteries, {n} Count",
     "20:1199 48:1899 100:3499", ""),
    ("AB-AAA", "Amazon Basics", "aaa", "count",
     "Amazon Basics AAA 1.5 Volt Performance Alkaline Batteries, {n} Count", "20:1199 36:1599 100:3499", ""),
    ("KS-AA", "Kirkland Signature", "aa", "count", "Kirkland Signature AA Alkaline Batteries, {n} Count",
     "48:1899", ""),
    ("KS-AAA", "Kirkland Signature", "aaa", "count", "Kirkland Signature AAA Alkaline Batteries, {n} Count",
     "48:1899", ""),
    ("ENELOOP-AA", "Panasonic", "aa", "count",
     "Panasonic eneloop AA Pre-Charged Rechargeable Batteries, {n} Count", "4:1499 8:2599", "rechargeable batteries"),
    # pantry staples
    ("HORIZON-WHOLE", "Horizon", "milk", "fl oz", "Horizon Organic Whole Milk, {label}, {n} fl oz",
     "64:599 128:899", "whole milk|organic milk"),
    ("HORIZON-2PCT", "Horizon", "milk", "fl oz", "Horizon Organic 2% Reduced Fat Milk, {label}, {n} fl oz",
     "64:599 128:899", "2% milk|organic milk"),
    ("ORGVALLEY-WHOLE", "Organic Valley", "milk", "fl oz", "Organic Valley Whole Milk, {label}, {n} fl oz",
     "64:649", "whole milk|organic milk"),
    ("GV-WHOLE", "Great Value", "milk", "fl oz", "Great Value Whole Vitamin D Milk, {label}, {n} fl oz",
     "64:198 128:328", "whole milk"),
    ("FAIRLIFE-2PCT", "fairlife", "milk", "fl oz", "fairlife 2% Reduced Fat Ultra-Filtered Milk, {n} fl oz",
     "52:449", "2% milk|lactose free milk"),
    ("SILK-ALMOND-UNSWT", "Silk", "almond", "fl oz", "Silk Unsweetened Almond Milk, {label}, {n} fl oz",
     "64:399 96:549", ""),
    ("SILK-ALMOND-VAN", "Silk", "almond", "fl oz", "Silk Vanilla Almond Milk, {label}, {n} fl oz", "64:399", ""),
    ("BLUEDIAMOND-UNSWT", "Blue Diamond", "almond", "fl oz",
     "Blue Diamond Almond Breeze Unsweetened Original Almondmilk, {label}, {n} fl oz", "32:249 64:349",
     "almond breeze"),
    ("OATLY-ORIG", "Oatly", "oat", "fl oz", "Oatly Oatmilk, Original, {label}, {n} fl oz", "64:549", ""),
    ("OATLY-BARISTA", "Oatly", "oat", "fl oz", "Oatly Oatmilk, Barista Edition, {label}, {n} fl oz", "32:449",
     "barista oat milk"),
    ("SILK-OAT", "Silk", "oat", "fl oz", "Silk Oat Yeah Plain Oatmilk, {label}, {n} fl oz", "64:399", ""),
    ("CHOBANI-OAT", "Chobani", "oat", "fl oz", "Chobani Oat Milk, Plain, {n} fl oz", "52:399", ""),
    ("PLANETOAT-ORIG", "Planet Oat", "oat", "fl oz", "Planet Oat Original Oatmilk, {n} fl oz", "52:349", ""),
    ("VITALFARMS-PASTURE", "Vital Farms", "eggs", "count", "Vital Farms Pasture-Raised Large Brown Eggs, {n} Count",
     "12:699 18:999", "brown eggs"),
    ("EGGLANDS-WHITE", "Eggland's Best", "eggs", "count", "Eggland's Best Large White Eggs, Grade A, {n} Count",
     "12:449 18:629", ""),
    ("PETEGERRY-ORG", "Pete and Gerry's", "eggs", "count",
     "Pete and Gerry's Organic Free Range Large Brown Eggs, {n} Count", "12:699", "organic eggs|brown eggs"),
    ("GV-EGGS", "Great Value", "eggs", "count", "Great Value Large White Eggs, {n} Count", "12:287 18:411 60:1198",
     ""),
    ("KS-EGGS", "Kirkland Signature", "eggs", "count", "Kirkland Signature Cage-Free Large Eggs, {n} Count",
     "24:699", ""),
    ("DAVES-21GRAIN", "Dave's Killer Bread", "bread", "oz",
     "Dave's Killer Bread 21 Whole Grains and Seeds Organic Bread, {n} oz", "27:649", "whole grain bread"),
    ("NATURESOWN-WW", "Nature's Own", "bread", "oz", "Nature's Own 100% Whole Wheat Bread, {n} oz Loaf", "20:399",
     "wheat bread"),
    ("ARNOLD-WW", "Arnold", "bread", "oz", "Arnold Whole Grains 100% Whole Wheat Bread, {n} oz", "24:549",
     "wheat bread"),
    ("WONDER-CLASSIC", "Wonder", "bread", "oz", "Wonder Classic White Bread, {n} oz Loaf", "20:299", "white bread"),
    ("DOLE-BANANAS", "Dole", "bananas", "count", "Dole Bananas, Bunch of {n}", "5:149 8:229", ""),
    ("365-ORG-BANANAS", "365 by Whole Foods Market", "bananas", "count",
     "365 by Whole Foods Market Organic Bananas, Bunch of {n}", "5:199 8:299", "organic bananas"),
    ("CHEERIOS-ORIG", "Cheerios", "cereal", "oz", "Cheerios Heart Healthy Cereal, Gluten Free, {n} oz",
     "8.9:449 18:599", ""),
    ("CHEERIOS-HONEYNUT", "Cheerios", "cereal", "oz", "Honey Nut Cheerios Cereal, {n} oz",
     "10.8:449 18.8:599 27.2:799", ""),
    ("KELLOGGS-FROSTED", "Kellogg's", "cereal", "oz", "Kellogg's Frosted Flakes Breakfast Cereal, Original, {n} oz",
     "13.5:449 24:649", ""),
    ("KELLOGGS-RAISINBRAN", "Kellogg's", "cereal", "oz", "Kellogg's Raisin Bran Breakfast Cereal, Original, {n} oz",
     "16.6:499 24.8:649", ""),
    ("QUAKER-OATS", "Quaker", "cereal", "oz", "Quaker Old Fashioned Rolled Oats, {n} oz", "18:399 42:699",
     "oatmeal|porridge oats"),
    ("MAHATMA-JASMINE", "Mahatma", "rice", "lb", "Mahatma Jasmine Rice, {n} lb", "2:349 5:799", "jasmine rice"),
    ("LUNDBERG-BASMATI", "Lundberg", "rice", "lb", "Lundberg Organic California Brown Basmati Rice, {n} lb",
     "2:549", "brown rice"),
    ("BENS-LONGGRAIN", "Ben's Original", "rice", "lb", "Ben's Original Long Grain White Rice, {n} lb",
     "2:399 5:849", "white rice"),
    ("KS-JASMINE", "Kirkland Signature", "rice", "lb", "Kirkland Signature Thai Hom Mali Jasmine Rice, {n} lb",
     "25:2199", "jasmine rice"),
    ("GV-LONGGRAIN", "Great Value", "rice", "lb", "Great Value Long Grain Enriched Rice, {n} lb",
     "2:148 5:328 20:1198", "white rice"),
    ("COR-EVERYDAY-EVOO", "California Olive Ranch", "oliveoil", "fl oz",
     "California Olive Ranch Everyday Extra Virgin Olive Oil, {n} fl oz", "16.9:999 25.4:1299 47.3:1999", ""),
    ("BERTOLLI-EVOO", "Bertolli", "oliveoil", "fl oz", "Bertolli Extra Virgin Olive Oil, Rich Taste, {n} fl oz",
     "16.9:799 33.8:1399 51:1899", ""),
    ("KS-ORG-EVOO", "Kirkland Signature", "oliveoil", "fl oz",
     "Kirkland Signature Organic Extra Virgin Olive Oil, {n} fl oz", "67.6:1999", ""),
    ("COLAVITA-EVOO", "Colavita", "oliveoil", "fl oz", "Colavita Extra Virgin Olive Oil, {n} fl oz",
     "17:999 34:1799", ""),
    ("GV-EVOO", "Great Value", "oliveoil", "fl oz", "Great Value Extra Virgin Olive Oil, {n} fl oz",
     "17:648 51:1498", ""),
)

# Diapers come in sizes 1-6, each in several counts: (sku prefix, brand, title, cents per diaper, counts used)
_DIAPER_LINES = (
    ("PAMPERS-SWAD", "Pampers", "Pampers Swaddlers Diapers, Size {s}, {n} Count", 38, (0, 1, 2)),
    ("HUGGIES-LM", "Huggies", "Huggies Little Movers Baby Diapers, Size {s}, {n} Count", 36, (0, 1, 2)),
    ("KS-SUPREME", "Kirkland Signature", "Kirkland Signature Supreme Diapers, Size {s}, {n} Count", 27, (2,)),
)
_DIAPER_COUNTS = {1: (44, 96, 198), 2: (37, 84, 186), 3: (52, 104, 168), 4: (46, 92, 150),
                  5: (40, 80, 132), 6: (36, 72, 120)}
_BULK_DISCOUNT = (1.0, 0.92, 0.85)

# Volume names used where a title asks for {label}.
_VOLUME_LABELS = {32: "Quart", 64: "Half Gallon", 128: "1 Gallon"}

# Out of stock right now: the demo has to show substitution and "not available" answers.
UNAVAILABLE = frozenset({
    "TIDE-PWD-ORIG-143", "CHARMIN-ULTRA-STRONG-24", "NESP-VL-DOUBLE-30", "SIMILAC-PROADV-36",
    "EVERYDROP-F3-2", "HP-910-CMY-3", "MIELE-FJM-8", "OATLY-BARISTA-32", "PPP-SENSITIVE-30",
    "LYSOL-WIPES-240", "HUGGIES-LM-S6-120", "GREENIES-REG-36",
})


def _round_price(cents: float) -> int:
    """Shelf-style prices: $x.99 above $10, $x.49/$x.99 below."""
    if cents >= 1000:
        return int(round(cents / 100.0)) * 100 - 1
    return max(99, int(round(cents / 50.0)) * 50 - 1)


def _parse_sizes(spec: str) -> list[tuple[str, float, int]]:
    out = []
    for item in spec.split():
        size, price = item.split(":")
        out.append((size, float(size), int(price)))
    return out


def _title(template: str, size_text: str, size: float) -> str:
    label = _VOLUME_LABELS.get(int(size)) if float(size).is_integer() else None
    if "{label}" in template and not label:
        template = template.replace(", {label}", "")
    return template.format(n=size_text, label=label or "")


def _synonyms(cat_key: str, extra: str) -> tuple[str, ...]:
    words = list(CATEGORIES[cat_key][1]) + [s for s in extra.split("|") if s]
    return tuple(dict.fromkeys(words))  # de-duplicated, order kept


def _line_products() -> list[Product]:
    products = []
    for prefix, brand, cat_key, unit, template, spec, extra in _LINES:
        path = CATEGORIES[cat_key][0]
        syns = _synonyms(cat_key, extra)
        for size_text, size, price in _parse_sizes(spec):
            sku = f"{prefix}-{size_text}"
            products.append(Product(sku=sku, title=_title(template, size_text, size), brand=brand, category=path,
                                    pack_size=size, unit=unit, price_cents=price,
                                    available=sku not in UNAVAILABLE, synonyms=syns))
    return products


def _diaper_products() -> list[Product]:
    path = CATEGORIES["diapers"][0]
    syns = _synonyms("diapers", "")
    products = []
    for prefix, brand, template, cents_each, tiers in _DIAPER_LINES:
        for size_no, counts in _DIAPER_COUNTS.items():
            for tier in tiers:
                count = counts[tier]
                sku = f"{prefix}-S{size_no}-{count}"
                products.append(Product(
                    sku=sku, title=template.format(s=size_no, n=count), brand=brand, category=path,
                    pack_size=float(count), unit="count",
                    price_cents=_round_price(count * cents_each * _BULK_DISCOUNT[tier]),
                    available=sku not in UNAVAILABLE,
                    synonyms=syns + (f"size {size_no} diapers",)))
    return products


def demo_catalog() -> list[Product]:
    """The demo catalog: several hundred household consumables, same list and order on every call."""
    products = _line_products() + _diaper_products()
    skus = {p.sku for p in products}
    missing = UNAVAILABLE - skus
    if missing or len(skus) != len(products):  # a typo in the tables should fail loudly, not silently
        raise ValueError(f"demo catalog tables are inconsistent: unknown={sorted(missing)}")
    return products


# --------------------------------------------------------------------------------------------------
# Purchase history
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Regular:
    """Something the household buys again and again.

    ``every_days`` is how long ``quantity`` packs of ``sku`` last. ``start``/``stop`` are fractions of the
    history window during which the need exists (diapers stop being needed). ``alternates`` are bought
    instead with probability ``switch_p``; from fraction ``switch_at`` on, ``later_sku`` is the usual pick.
    """

    sku: str
    every_days: float
    quantity: int = 1
    alternates: tuple[str, ...] = ()
    switch_p: float = 0.0
    jitter: float = 0.10
    start: float = 0.0
    stop: float = 1.0
    later_sku: str = ""
    switch_at: float = 1.0
    bulk_p: float = 0.05  # chance of taking the next bigger pack of the same line
    perishable: bool = False


DEMO_REGULARS: tuple[Regular, ...] = (
    # laundry and dish
    Regular("TIDE-PODS-ORIG-81", 38, alternates=("PERSIL-DISCS-62", "TIDE-PODS-FREE-81"), switch_p=0.08),
    Regular("BOUNCE-OUTDOOR-160", 75),
    Regular("CASCADE-PLAT-62", 45, alternates=("FINISH-QUANTUM-64",), switch_p=0.10),
    Regular("DAWN-ULTRA-ORIG-28", 30),
    Regular("FINISH-JETDRY-16", 120, jitter=0.15),
    # paper and cleaning
    Regular("CHARMIN-ULTRA-SOFT-18", 21, alternates=("COTTONELLE-ULTRA-12",), switch_p=0.08),
    Regular("BOUNTY-SAS-8", 35, quantity=2, alternates=("BRAWNY-TEAR-6",), switch_p=0.06),
    Regular("KLEENEX-ULTRA-4", 45, jitter=0.2),
    Regular("GLAD-FORCEFLEX-80", 60),
    Regular("SCOTCHBRITE-NS-6", 45, jitter=0.15),
    Regular("CLOROX-WIPES-225", 50, jitter=0.15),
    # coffee: a permanent switch from Peet's to Starbucks part way through
    Regular("PEETS-MAJOR-WB-18", 14, alternates=("LAVAZZA-SC-WB-35.2",), switch_p=0.07,
            later_sku="SBUX-PIKE-WB-18", switch_at=0.6),
    Regular("DELONGHI-ECODECALK-16.9", 120, jitter=0.15, bulk_p=0.0),
    # the dog
    Regular("PPP-ADULT-CHKRICE-35", 28, alternates=("BLUE-LIFEPROT-30",), switch_p=0.05, bulk_p=0.0),
    Regular("GREENIES-REG-27", 45),
    # the baby: diapers grow with the child; formula for the first months
    Regular("PAMPERS-SWAD-S3-52", 7, jitter=0.08, start=0.15, stop=0.35, bulk_p=0.0),
    Regular("PAMPERS-SWAD-S4-46", 7, jitter=0.08, start=0.35, stop=0.60, bulk_p=0.0),
    Regular("PAMPERS-SWAD-S5-40", 7, jitter=0.08, start=0.60, stop=0.85, bulk_p=0.0),
    Regular("PAMPERS-WIPES-SENS-336", 21, start=0.15, stop=0.9),
    Regular("SIMILAC-360-30.8", 12, jitter=0.08, start=0.15, stop=0.5, bulk_p=0.0),
    # appliance consumables
    Regular("EVERYDROP-F1-1", 182, jitter=0.06, bulk_p=0.0),
    Regular("HP-67XL-BLK-1", 120, jitter=0.15, bulk_p=0.0),
    Regular("HP-67XL-TRI-1", 150, jitter=0.15, bulk_p=0.0),
    Regular("FILTRETE-16X25X1-MPR1000-1", 90, jitter=0.08, bulk_p=0.0),
    Regular("DURACELL-AA-20", 150, jitter=0.25),
    # personal care
    Regular("COLGATE-TOTAL-2", 50),
    Regular("ORALB-CROSS-3", 140, jitter=0.12),
    Regular("PANTENE-DMR-SH-17.9", 56),
    Regular("PANTENE-DMR-CO-17.9", 70),
    Regular("DOVE-DEEP-BW-22", 35),
    Regular("DEGREE-MEN-COOL-2", 60),
    Regular("GILLETTE-FUSION5-8", 90, jitter=0.15),
    # groceries: the weekly shop
    Regular("HORIZON-WHOLE-64", 7, quantity=2, jitter=0.08, bulk_p=0.0, perishable=True),
    Regular("OATLY-ORIG-64", 10, jitter=0.12, bulk_p=0.0, perishable=True),
    Regular("EGGLANDS-WHITE-18", 10, alternates=("VITALFARMS-PASTURE-12",), switch_p=0.1, bulk_p=0.0,
            perishable=True),
    Regular("DAVES-21GRAIN-27", 8, jitter=0.12, bulk_p=0.0, perishable=True),
    Regular("DOLE-BANANAS-8", 7, jitter=0.08, bulk_p=0.0, perishable=True),
    Regular("CHEERIOS-HONEYNUT-18.8", 18, jitter=0.15),
    Regular("MAHATMA-JASMINE-5", 45, jitter=0.15),
    Regular("COR-EVERYDAY-EVOO-25.4", 40, jitter=0.15),
)

BASKET_WINDOW_DAYS = 3.0  # anything due this soon joins the basket being placed


def _local_zone():
    try:
        from zoneinfo import ZoneInfo
        return ZoneInfo(DEMO_HOUSEHOLD["time_zone"])
    except Exception:  # no tz database on this machine: Pacific standard time is close enough
        return timezone(timedelta(hours=-8))


def _line_key(sku: str) -> str:
    return sku.rsplit("-", 1)[0]


def demo_history(household_id: str, products: list[Product], now: datetime, years: float = 2.0,
                 seed: int = 7) -> list[Purchase]:
    """``years`` of purchases of ``DEMO_REGULARS`` up to (excluding) ``now``, sorted by time.

    Only SKUs present in ``products`` are used (a regular whose usual SKU is missing is skipped). The same
    arguments always give the same history. ``now`` may be naive, in which case it is taken as UTC.
    """
    from replenish.domain.history import Purchase

    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now = now.astimezone(UTC)
    rng = random.Random(seed)
    zone = _local_zone()
    by_sku = {p.sku: p for p in products}
    line_sizes: dict[str, list[Product]] = {}
    for p in products:
        line_sizes.setdefault(_line_key(p.sku), []).append(p)
    for sizes in line_sizes.values():
        sizes.sort(key=lambda p: p.pack_size)

    span = timedelta(days=365.25 * years)
    begin = now - span
    regulars = [r for r in DEMO_REGULARS if r.sku in by_sku]
    due: dict[int, datetime] = {}
    for i, r in enumerate(regulars):
        if r.start <= 0:  # already a customer: the first purchase falls anywhere in the first cycle
            due[i] = begin + timedelta(days=rng.uniform(0, r.every_days))
        else:
            due[i] = begin + span * r.start + timedelta(days=rng.uniform(0, 3))

    purchases: list[Purchase] = []
    last_order = begin
    basket_no = 0
    while due:
        first = min(due.values())
        if first >= now:
            break
        ordered_at = _order_time(rng, first, zone, last_order)
        if ordered_at >= now:
            break
        last_order = ordered_at
        members = sorted(i for i, t in due.items() if t <= first + timedelta(days=BASKET_WINDOW_DAYS))
        basket_no += 1
        ref = f"{household_id}-{ordered_at:%Y%m%d}-{basket_no:04d}"
        for i in members:
            r = regulars[i]
            fraction = (ordered_at - begin) / span
            if fraction > r.stop:
                del due[i]
                continue
            product, quantity = _pick(rng, r, fraction, by_sku, line_sizes)
            purchases.append(Purchase(household_id, product.sku, ordered_at, quantity, ref))
            usual = by_sku[r.sku]
            lasts = r.every_days * max(0.5, rng.gauss(1.0, r.jitter))
            if product.unit == usual.unit and usual.pack_size > 0:
                lasts *= (product.pack_size * quantity) / (usual.pack_size * r.quantity)
            due[i] = ordered_at + timedelta(days=lasts)
    return purchases


def _pick(rng: random.Random, r: Regular, fraction: float, by_sku: dict[str, Product],
          line_sizes: dict[str, list[Product]]) -> tuple[Product, int]:
    """Which product and how many packs this time: usually the usual, sometimes not."""
    sku = r.later_sku if r.later_sku and fraction >= r.switch_at and r.later_sku in by_sku else r.sku
    alternates = [a for a in r.alternates if a in by_sku]
    if alternates and rng.random() < r.switch_p:
        sku = rng.choice(alternates)
    product = by_sku[sku]
    if r.bulk_p and rng.random() < r.bulk_p:
        sizes = line_sizes.get(_line_key(sku), [])
        bigger = [p for p in sizes if p.pack_size > product.pack_size]
        if bigger:
            product = bigger[0]
    quantity = r.quantity
    roll = rng.random()
    if roll < 0.06:
        quantity += 1
    elif roll < 0.10 and quantity > 1:
        quantity -= 1
    return product, quantity


def _order_time(rng: random.Random, when: datetime, zone, not_before: datetime) -> datetime:
    """Households order in the morning or the evening, local time; returned in UTC."""
    local_day = when.astimezone(zone).date()
    hour = rng.choice((7, 8, 12, 19, 20, 20, 21, 21, 22))
    local = datetime(local_day.year, local_day.month, local_day.day, hour, rng.randrange(60),
                     rng.randrange(60), tzinfo=zone)
    at = local.astimezone(UTC)
    if at <= not_before:
        at = not_before + timedelta(minutes=rng.randrange(30, 180))
    return at
