#!/usr/bin/env python3
"""Generate the bundled ``basic`` evaluation suite: ``src/tailgate/suites/basic/items.jsonl``.

The dataset is a small, multilingual set of questions with known correct answers, written for
very small CPU language models (SmolLM2-135M-Instruct, Gemma-3-270M). It exists so that tailgate
can be demonstrated and tested end to end on a laptop, and so that its slicing features have
meaningful attributes to slice on.

Every item is one JSON object per line with the keys, in order::

    id, task, lang, length, names, format, question, answer, answer_type

* ``task``: arithmetic, capitals, yes_no, unit_conversion, json_extraction, multiple_choice.
* ``lang``: en, fr, es, de; the whole question (instructions included) is in that language.
* ``length``: ``short``, or ``long`` when the question is preceded by several paragraphs of
  plausible but irrelevant prose (never containing the answer, nor any digit).
* ``names``: ``none``, ``english`` or ``non_english``: which kind of person names appear.
* ``format``: ``text`` or ``json`` (the answer format the question asks for).
* ``answer_type``: number, text (list of accepted city names), yes_no (list of accepted words),
  choice (a letter A-D) or object (the expected extraction).

Answers are computed in code where possible (arithmetic, unit conversions, option letters); the
facts (capitals, yes/no statements, multiple-choice questions) are written out below and were
checked by hand. The output is deterministic: a fixed seed, no set iteration, so running the
script twice produces byte-identical files.

Usage::

    python examples/build_basic_suite.py [--out PATH] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "src" / "tailgate" / "suites" / "basic" / "items.jsonl"
SEED = 20250611

LANGS = ("en", "fr", "es", "de")
TASKS = (
    "arithmetic",
    "capitals",
    "yes_no",
    "unit_conversion",
    "json_extraction",
    "multiple_choice",
)
TASK_ABBREV = {
    "arithmetic": "arith",
    "capitals": "cap",
    "yes_no": "yn",
    "unit_conversion": "unit",
    "json_extraction": "extract",
    "multiple_choice": "mc",
}
ITEMS_PER_CELL = 14  # per task x language
LONG_PER_CELL = 4
MIN_CONTEXT_WORDS = 170
MAX_CONTEXT_WORDS = 330
LETTERS = "ABCD"

Answer: TypeAlias = int | str | list[str] | dict[str, str | int]
L10n: TypeAlias = dict[str, str]  # language -> text


def _para(*parts: str) -> str:
    """Join the pieces of a long string with single spaces (keeps source lines short)."""
    return " ".join(parts)


# --------------------------------------------------------------------------------------------
# Shared instructions
# --------------------------------------------------------------------------------------------

TEXT_INSTRUCTION: dict[str, L10n] = {
    "number": {
        "en": "Answer with a number only.",
        "fr": "Répondez uniquement par un nombre.",
        "es": "Responde solo con un número.",
        "de": "Antworte nur mit einer Zahl.",
    },
    "city": {
        "en": "Answer with the city name only.",
        "fr": "Répondez uniquement par le nom de la ville.",
        "es": "Responde solo con el nombre de la ciudad.",
        "de": "Antworte nur mit dem Namen der Stadt.",
    },
    "yes_no": {
        "en": "Answer with yes or no only.",
        "fr": "Répondez uniquement par oui ou par non.",
        "es": "Responde solo con sí o no.",
        "de": "Antworte nur mit Ja oder Nein.",
    },
    "choice": {
        "en": "Answer with the letter of the correct option only.",
        "fr": "Répondez uniquement par la lettre de la bonne réponse.",
        "es": "Responde solo con la letra de la opción correcta.",
        "de": "Antworte nur mit dem Buchstaben der richtigen Antwort.",
    },
}

JSON_VALUE_DESC: dict[str, L10n] = {
    "number": {"en": "a number", "fr": "un nombre", "es": "un número", "de": "eine Zahl"},
    "city": {
        "en": "the city name",
        "fr": "le nom de la ville",
        "es": "el nombre de la ciudad",
        "de": "der Name der Stadt",
    },
    "yes_no": {
        "en": '"yes" or "no"',
        "fr": '"oui" ou "non"',
        "es": '"sí" o "no"',
        "de": '"ja" oder "nein"',
    },
    "choice": {
        "en": "the letter of the correct option",
        "fr": "la lettre de la bonne réponse",
        "es": "la letra de la opción correcta",
        "de": "der Buchstabe der richtigen Antwort",
    },
}


JSON_INSTRUCTION: L10n = {
    "en": 'Reply with JSON only, in the form {"answer": ...}, where the value is DESC.',
    "fr": 'Répondez uniquement en JSON, sous la forme {"answer": ...}, où la valeur est DESC.',
    "es": 'Responde solo con JSON, con la forma {"answer": ...}, donde el valor es DESC.',
    "de": 'Antworte nur mit JSON in der Form {"answer": ...}, wobei der Wert DESC ist.',
}


def json_instruction(kind: str, lang: str) -> str:
    """The instruction that asks for ``{"answer": ...}`` in the item's language."""
    return JSON_INSTRUCTION[lang].replace("DESC", JSON_VALUE_DESC[kind][lang])


QUESTION_LABEL: L10n = {"en": "Question:", "fr": "Question :", "es": "Pregunta:", "de": "Frage:"}

YES: dict[str, list[str]] = {
    "en": ["yes"],
    "fr": ["oui", "yes"],
    "es": ["sí", "si", "yes"],
    "de": ["ja", "yes"],
}
NO: dict[str, list[str]] = {
    "en": ["no"],
    "fr": ["non", "no"],
    "es": ["no"],
    "de": ["nein", "no"],
}

# --------------------------------------------------------------------------------------------
# Person names
# --------------------------------------------------------------------------------------------

ENGLISH_GIVEN = (
    "John", "Emily", "Michael", "Sarah", "David", "Jessica", "James", "Laura",
    "Robert", "Hannah", "Thomas", "Olivia", "Daniel", "Megan", "Peter", "Rachel",
)  # fmt: skip
NON_ENGLISH_GIVEN = (
    "Oluwaseun", "Zhang Wei", "Nguyễn Thị Lan", "Małgorzata", "Søren", "Björn",
    "Aigerim", "Priya", "José Ángel", "Chukwuemeka", "Ayşe", "Dagný", "Zoltán",
    "Thandiwe", "Giedrė", "Siddharth", "Yuki", "Joaquín",
)  # fmt: skip
ENGLISH_FULL = (
    "John Smith", "Emily Clark", "Michael Brown", "Sarah Johnson", "David Wilson",
    "Jessica Taylor", "James Anderson", "Laura Thompson", "Robert Miller", "Hannah Davies",
    "Thomas Walker", "Olivia Harris", "Daniel Moore", "Megan Lewis", "Peter Wright",
    "Rachel Evans",
)  # fmt: skip
NON_ENGLISH_FULL = (
    "Nguyễn Thị Lan", "Oluwaseun Adeyemi", "Zhang Wei", "Małgorzata Kowalska",
    "José Ángel Pérez", "Björn Østergaard", "Aigerim Nurlanovna", "Priya Raghunathan",
    "Søren Kjærgaard", "Chukwuemeka Okafor", "Ayşe Yılmaz", "Dagný Sigurðardóttir",
    "Zoltán Horváth", "Thandiwe Dlamini", "Giedrė Kazlauskienė", "Siddharth Iyer",
    "Lê Văn Hùng", "Joaquín Muñoz", "Yuki Tanaka", "Nasrin Hosseini",
)  # fmt: skip
CITIES = (
    "Kraków", "Lagos", "Hà Nội", "Reykjavík", "Boston", "São Paulo", "Malmö", "Zürich",
    "Chicago", "Manchester", "Toronto", "Melbourne", "Osaka", "İzmir", "Almaty", "Chennai",
    "Durban", "Bergen", "Łódź", "Córdoba", "Guadalajara", "Kumasi", "Đà Nẵng", "Glasgow",
    "Leeds", "Denver", "Seattle", "Auckland", "Tromsø", "Vilnius", "Debrecen", "Aarhus",
    "Ibadan", "Chengdu", "Valparaíso", "Cluj-Napoca", "Brno", "Tartu",
)  # fmt: skip

# --------------------------------------------------------------------------------------------
# Distractor paragraphs for long items: no digits, no number words, no person names, no real
# countries or cities, no yes/no words. Filtered per item so none contains the item's answer.
# --------------------------------------------------------------------------------------------

DISTRACTORS: dict[str, tuple[str, ...]] = {
    "en": (
        _para(
            "Notice from the town council of Millbrook: the collection of garden waste will move",
            "from Tuesday to Thursday starting next month. Residents are asked to place their",
            "bins at the edge of the pavement early in the morning and to make sure the lids",
            "close properly. Branches should be cut into short pieces and tied together with",
            "string. The council also reminds everyone that the recycling centre on Mill Lane",
            "will be closed for repairs during the first week of the month. Questions about the",
            "new schedule can be sent to the customer service desk at the town hall, which is",
            "open on weekday mornings.",
        ),
        _para(
            "Weather outlook for the coming days: after a grey and damp start to the week, a",
            "ridge of high pressure will bring calmer conditions from midweek onwards. Morning",
            "fog is likely in low-lying valleys and may be slow to clear near the river.",
            "Afternoons should be mostly dry with bright spells, although a light breeze from the",
            "north will keep temperatures below the seasonal average. By the weekend, thicker",
            "cloud is expected to move in from the west, bringing occasional showers and gusty",
            "winds along the coast. Gardeners are advised to protect tender plants overnight, as",
            "a touch of ground frost cannot be ruled out in sheltered spots.",
        ),
        _para(
            "The new Aurora kettle combines a brushed steel body with a soft-touch handle that",
            "stays cool while the water heats. Its concealed element makes cleaning simple, and",
            "the wide lid opens with a gentle press of a button, so filling it at the tap is",
            "quick and easy. A removable limescale filter keeps your tea free of flakes, while",
            "the illuminated water window shows exactly how much is inside. The kettle switches",
            "itself off automatically once the water has boiled and will not operate if it is",
            "lifted from the base. It is available in charcoal, cream and a deep ocean blue, and",
            "comes with a full manufacturer's guarantee.",
        ),
        _para(
            "The old watermill at the edge of the village is among the oldest buildings in the",
            "district. It was built by a family of millers who ground wheat and barley for the",
            "surrounding farms for several generations. During the long winters, the mill wheel",
            "often froze, and the villagers had to break the ice by hand so that work could",
            "continue. In the last century the building fell into disrepair, and its roof",
            "collapsed after a severe storm. A group of local volunteers later restored it,",
            "replacing the rotten beams with oak from a nearby forest. Today the mill is open to",
            "visitors, who can watch flour being made in the traditional way.",
        ),
        _para(
            "For a simple vegetable soup, begin by warming a little olive oil in a large pot over",
            "a gentle heat. Add a chopped onion, a couple of carrots and a stick of celery, and",
            "let them soften slowly without browning. Stir in a handful of diced potatoes, a",
            "crushed garlic clove and a sprig of fresh thyme. Pour in enough vegetable stock to",
            "cover everything, bring it to a simmer and cook until the potatoes are tender.",
            "Season with salt and black pepper, then blend part of the soup to make it creamy",
            "while leaving some pieces whole. Serve it hot with crusty bread and a spoonful of",
            "grated cheese on top.",
        ),
        _para(
            "The home side produced a spirited performance on Saturday afternoon, coming from",
            "behind to win a tense match in front of a lively crowd. The visitors took an early",
            "lead after a defensive mistake, and for much of the opening half the hosts struggled",
            "to keep possession. After the break, however, the coach made a bold change in",
            "midfield, and the team began to press higher up the pitch. The equaliser came from a",
            "well-worked corner, and the winning goal followed late in the game with a powerful",
            "header at the far post. The result lifts the club away from the bottom of the table",
            "ahead of next week's local derby.",
        ),
        _para(
            "The community library has announced a new programme of events for the autumn. Every",
            "Wednesday evening, a reading circle will meet in the upstairs room to discuss a",
            "novel chosen by the members, and tea and biscuits will be provided. On Saturday",
            "mornings, children can join a storytelling session followed by simple craft",
            "activities. The library is also launching a service that delivers books to residents",
            "who cannot easily leave their homes. Volunteers are still needed to help with",
            "deliveries and to keep the shelves tidy. Anyone interested can leave their details",
            "at the front desk or speak to a member of staff during opening hours.",
        ),
        _para(
            "Passengers are advised that engineering works will affect services on the coastal",
            "line over the next few weekends. Trains between the harbour station and the",
            "university halt will be replaced by buses, and journeys may take considerably longer",
            "than usual. Bicycles cannot be carried on the replacement buses, so cyclists should",
            "plan an alternative route. The railway company apologises for any inconvenience and",
            "recommends checking the timetable before setting out. Ticket offices will remain",
            "open as normal, and staff in bright orange jackets will be on hand at each station",
            "to guide travellers to the bus stops.",
        ),
        _para(
            "A new exhibition at the town museum explores the history of clockmaking in the",
            "region. Visitors can admire delicate pocket watches, grand longcase clocks and the",
            "tools that craftsmen used to cut tiny gears by hand. A reconstructed workshop shows",
            "how an apprentice would have spent a typical day, from sweeping the floor to",
            "polishing brass parts under the watchful eye of the master. Interactive displays",
            "allow children to build a simple pendulum and see how it keeps time. The exhibition",
            "also includes letters and account books that reveal how local families saved for",
            "many years to buy a clock of their own.",
        ),
        _para(
            "Late autumn is a good moment to prepare the garden for the colder months. Rake",
            "fallen leaves from the lawn and pile them in a corner, where they will slowly turn",
            "into rich leaf mould. Cut back perennials that have finished flowering, but leave a",
            "few seed heads standing for the birds to feed on. Empty summer pots and store them",
            "in a dry shed so that they do not crack in the frost. Spring bulbs such as tulips",
            "and daffodils can still be planted, as long as the soil is not frozen. Finally,",
            "clean and oil your tools before putting them away, and they will be ready when the",
            "weather improves.",
        ),
    ),
    "fr": (
        _para(
            "Avis de la mairie de Saint-Aubin-des-Prés : à partir du mois prochain, la collecte",
            "des déchets verts aura lieu le jeudi au lieu du mardi. Les habitants sont priés de",
            "sortir leurs bacs la veille au soir et de vérifier que les couvercles ferment",
            "correctement. Les branches doivent être coupées en petits morceaux et attachées avec",
            "une ficelle. La mairie rappelle également que la déchetterie de la rue du Moulin",
            "sera fermée pour travaux pendant la première semaine du mois. Pour toute question",
            "concernant le nouveau calendrier, il est possible de s'adresser à l'accueil de",
            "l'hôtel de ville, ouvert du lundi au vendredi le matin.",
        ),
        _para(
            "Prévisions pour les prochains jours : après un début de semaine gris et humide, un",
            "anticyclone apportera un temps plus calme à partir de mercredi. Des bancs de",
            "brouillard se formeront le matin dans les vallées et pourront persister près de la",
            "rivière. Les après-midi seront généralement secs avec de belles éclaircies, mais une",
            "petite brise de nord maintiendra des températures inférieures aux normales de",
            "saison. Ce week-end, des nuages plus épais arriveront par l'ouest, accompagnés",
            "d'averses passagères et de rafales de vent sur le littoral. Il est conseillé aux",
            "jardiniers de protéger les plantes fragiles pendant la nuit, car de légères gelées",
            "ne sont pas à exclure.",
        ),
        _para(
            "La nouvelle bouilloire Aurora associe un corps en acier brossé à une poignée au",
            "toucher doux qui reste froide pendant que l'eau chauffe. Sa résistance cachée",
            "facilite le nettoyage, et son large couvercle s'ouvre d'une simple pression sur un",
            "bouton, ce qui permet de la remplir rapidement au robinet. Un filtre anticalcaire",
            "amovible garde votre thé à l'abri des dépôts, tandis qu'une fenêtre lumineuse",
            "indique précisément la quantité d'eau. La bouilloire s'éteint automatiquement dès",
            "que l'eau a bouilli et ne fonctionne pas si elle est retirée de son socle. Elle est",
            "disponible en anthracite, en crème et en bleu océan profond, avec une garantie",
            "complète du fabricant.",
        ),
        _para(
            "Le vieux moulin à eau situé à l'entrée du village compte parmi les plus anciens",
            "bâtiments de la région. Il fut construit par une famille de meuniers qui moulurent",
            "le blé et l'orge des fermes voisines pendant plusieurs générations. Pendant les",
            "longs hivers, la roue gelait souvent, et les villageois devaient casser la glace à",
            "la main pour que le travail puisse continuer. Au siècle dernier, le bâtiment tomba",
            "en ruine et son toit s'effondra après une violente tempête. Un groupe de bénévoles",
            "le restaura plus tard en remplaçant les poutres pourries par du chêne provenant",
            "d'une forêt voisine. Aujourd'hui, les visiteurs peuvent y voir fabriquer de la",
            "farine à l'ancienne.",
        ),
        _para(
            "Pour une soupe de légumes toute simple, commencez par faire chauffer un filet",
            "d'huile d'olive dans une grande casserole à feu doux. Ajoutez un oignon émincé,",
            "quelques carottes et une branche de céleri, puis laissez-les fondre doucement sans",
            "les faire colorer. Incorporez une poignée de pommes de terre en dés, une gousse",
            "d'ail écrasée et un brin de thym frais. Versez suffisamment de bouillon de légumes",
            "pour couvrir le tout, portez à frémissement et laissez cuire jusqu'à ce que les",
            "pommes de terre soient tendres. Salez, poivrez, puis mixez une partie de la soupe",
            "pour la rendre onctueuse. Servez bien chaud avec du pain croustillant et un peu de",
            "fromage râpé.",
        ),
        _para(
            "L'équipe locale a livré une prestation pleine de caractère samedi après-midi,",
            "renversant la situation pour s'imposer au terme d'un match tendu devant un public",
            "enthousiaste. Les visiteurs avaient ouvert le score très tôt à la suite d'une erreur",
            "défensive, et pendant une bonne partie de la première période, les joueurs locaux",
            "ont eu du mal à garder le ballon. Après la pause, l'entraîneur a opéré un changement",
            "audacieux au milieu de terrain, et l'équipe a commencé à presser plus haut.",
            "L'égalisation est venue d'un corner bien travaillé, puis le but de la victoire est",
            "tombé en fin de match sur une tête puissante au premier poteau. Ce résultat éloigne",
            "le club du bas du classement avant le derby de la semaine prochaine.",
        ),
        _para(
            "La médiathèque municipale a dévoilé son programme d'animations pour l'automne.",
            "Chaque mercredi soir, un cercle de lecture se réunira dans la salle de l'étage pour",
            "discuter d'un roman choisi par les participants, autour d'un thé et de quelques",
            "biscuits. Le samedi matin, les enfants pourront assister à une heure du conte suivie",
            "d'activités manuelles. La médiathèque lance également un service de portage de",
            "livres à domicile pour les personnes qui ne peuvent pas se déplacer facilement. Des",
            "bénévoles sont encore recherchés pour assurer les livraisons et ranger les",
            "rayonnages. Les personnes intéressées peuvent laisser leurs coordonnées à l'accueil",
            "ou s'adresser au personnel pendant les heures d'ouverture.",
        ),
        _para(
            "Les voyageurs sont informés que des travaux de maintenance perturberont la ligne",
            "côtière pendant les prochains week-ends. Les trains entre la gare du port et l'arrêt",
            "de l'université seront remplacés par des autocars, et les trajets pourront être",
            "nettement plus longs que d'habitude. Les vélos ne seront pas acceptés à bord des",
            "autocars de substitution ; les cyclistes sont donc invités à prévoir un autre",
            "itinéraire. La compagnie ferroviaire présente ses excuses pour la gêne occasionnée",
            "et recommande de consulter les horaires avant de partir. Les guichets resteront",
            "ouverts normalement, et des agents en gilet orange seront présents dans chaque gare",
            "pour orienter les voyageurs.",
        ),
        _para(
            "Une nouvelle exposition au musée de la ville retrace l'histoire de l'horlogerie dans",
            "la région. Les visiteurs peuvent admirer de délicates montres de poche, de grandes",
            "horloges comtoises et les outils avec lesquels les artisans taillaient à la main de",
            "minuscules engrenages. Un atelier reconstitué montre la journée type d'un apprenti,",
            "du balayage du sol au polissage des pièces en laiton sous l'œil attentif du maître.",
            "Des dispositifs interactifs permettent aux enfants de construire un pendule simple",
            "et de comprendre comment il mesure le temps. L'exposition présente aussi des lettres",
            "et des livres de comptes qui montrent comment les familles économisaient pendant des",
            "années pour s'offrir une horloge.",
        ),
        _para(
            "La fin de l'automne est le bon moment pour préparer le jardin à la saison froide.",
            "Ratissez les feuilles mortes tombées sur la pelouse et entassez-les dans un coin, où",
            "elles se transformeront lentement en terreau. Rabattez les vivaces qui ont fini de",
            "fleurir, mais laissez quelques têtes de graines pour nourrir les oiseaux. Videz les",
            "pots d'été et rangez-les dans un abri sec afin qu'ils ne se fendent pas sous l'effet",
            "du gel. Il est encore temps de planter des bulbes de printemps comme les tulipes et",
            "les jonquilles, tant que le sol n'est pas gelé. Enfin, nettoyez et huilez vos outils",
            "avant de les ranger : ils seront prêts dès le retour des beaux jours.",
        ),
    ),
    "es": (
        _para(
            "Aviso del Ayuntamiento de Fuentelaguna: a partir del mes que viene, la recogida de",
            "restos de poda pasará del martes al jueves. Se ruega a los vecinos que saquen los",
            "contenedores la noche anterior y comprueben que las tapas cierran bien. Las ramas",
            "deben cortarse en trozos pequeños y atarse con cuerda. El Ayuntamiento recuerda",
            "también que el punto limpio de la calle del Molino permanecerá cerrado por obras",
            "durante la primera semana del mes. Para cualquier consulta sobre el nuevo",
            "calendario, los vecinos pueden dirigirse a la oficina de atención ciudadana, abierta",
            "de lunes a viernes por la mañana.",
        ),
        _para(
            "Previsión para los próximos días: tras un comienzo de semana gris y húmedo, un",
            "anticiclón traerá un tiempo más tranquilo a partir del miércoles. Por la mañana se",
            "formarán bancos de niebla en los valles, que podrán persistir cerca del río. Las",
            "tardes serán en general secas y con claros, aunque una ligera brisa del norte",
            "mantendrá las temperaturas por debajo de lo habitual para la época. Durante el fin",
            "de semana llegarán nubes más densas desde el oeste, con chubascos ocasionales y",
            "rachas de viento en la costa. Se aconseja a quienes tengan huerto que protejan las",
            "plantas más delicadas por la noche, porque podrían producirse heladas débiles.",
        ),
        _para(
            "El nuevo hervidor Aurora combina un cuerpo de acero cepillado con un asa de tacto",
            "suave que se mantiene fría mientras el agua se calienta. Su resistencia oculta",
            "facilita la limpieza, y la amplia tapa se abre con solo pulsar un botón, de modo que",
            "llenarlo en el grifo resulta rápido y cómodo. Un filtro antical extraíble mantiene",
            "el té libre de impurezas, mientras que una ventana iluminada muestra con precisión",
            "la cantidad de agua. El hervidor se apaga automáticamente cuando el agua ha hervido",
            "y deja de funcionar en cuanto se retira de la base. Está disponible en gris",
            "antracita, color crema y azul océano, y cuenta con la garantía completa del",
            "fabricante.",
        ),
        _para(
            "El viejo molino de agua situado a la entrada del pueblo figura entre los edificios",
            "más antiguos de la comarca. Lo construyó una familia de molineros que molió el trigo",
            "y la cebada de las granjas vecinas durante varias generaciones. En los largos",
            "inviernos, la rueda se congelaba a menudo y los vecinos tenían que romper el hielo a",
            "mano para que el trabajo pudiera continuar. En el siglo pasado, el edificio quedó",
            "abandonado y su tejado se hundió tras una fuerte tormenta. Más tarde, un grupo de",
            "voluntarios lo restauró y sustituyó las vigas podridas por madera de roble de un",
            "bosque cercano. Hoy el molino está abierto al público, que puede ver cómo se elabora",
            "la harina a la manera tradicional.",
        ),
        _para(
            "Para preparar una sopa de verduras sencilla, empieza calentando un chorrito de",
            "aceite de oliva en una olla grande a fuego suave. Añade una cebolla picada, unas",
            "zanahorias y una rama de apio, y deja que se ablanden poco a poco sin que lleguen a",
            "dorarse. Incorpora un puñado de patatas en dados, un diente de ajo machacado y una",
            "ramita de tomillo fresco. Vierte caldo de verduras hasta cubrirlo todo, lleva a",
            "ebullición suave y cocina hasta que las patatas estén tiernas. Sazona con sal y",
            "pimienta negra, y tritura una parte de la sopa para que quede cremosa. Sírvela bien",
            "caliente con pan crujiente y un poco de queso rallado por encima.",
        ),
        _para(
            "El equipo local firmó una actuación llena de carácter el sábado por la tarde y",
            "remontó para ganar un partido muy disputado ante una afición entregada. Los",
            "visitantes se adelantaron pronto en el marcador tras un error defensivo, y durante",
            "buena parte de la primera mitad a los locales les costó mantener el balón. Tras el",
            "descanso, el entrenador hizo un cambio atrevido en el centro del campo y el equipo",
            "empezó a presionar más arriba. El empate llegó en un córner bien trabajado, y el gol",
            "de la victoria cayó en los últimos minutos con un potente cabezazo al segundo palo.",
            "Con este resultado, el club se aleja de la parte baja de la clasificación antes del",
            "derbi de la próxima semana.",
        ),
        _para(
            "La biblioteca municipal ha presentado su programa de actividades para el otoño.",
            "Todos los miércoles por la tarde, un club de lectura se reunirá en la sala de la",
            "planta superior para comentar una novela elegida por los participantes, con té y",
            "galletas para todos. Los sábados por la mañana, los más pequeños podrán disfrutar de",
            "una sesión de cuentacuentos seguida de talleres de manualidades. La biblioteca",
            "también pone en marcha un servicio de préstamo a domicilio para las personas que",
            "tienen dificultades para salir de casa. Todavía se necesitan voluntarios para",
            "repartir los libros y ordenar las estanterías. Quienes estén interesados pueden",
            "dejar sus datos en el mostrador o hablar con el personal durante el horario de",
            "apertura.",
        ),
        _para(
            "Se informa a los viajeros de que las obras de mantenimiento afectarán a la línea de",
            "la costa durante los próximos fines de semana. Los trenes entre la estación del",
            "puerto y el apeadero de la universidad serán sustituidos por autobuses, y los",
            "trayectos podrán durar bastante más de lo habitual. Las bicicletas quedan excluidas",
            "de los autobuses de sustitución, por lo que se recomienda a los ciclistas planificar",
            "una ruta alternativa. La compañía ferroviaria pide disculpas por las molestias y",
            "aconseja consultar los horarios antes de salir. Las taquillas funcionarán con",
            "normalidad, y el personal con chalecos naranjas estará en cada estación para",
            "orientar a los viajeros.",
        ),
        _para(
            "Una nueva exposición en el museo de la ciudad recorre la historia de la relojería en",
            "la región. Los visitantes pueden admirar delicados relojes de bolsillo, grandes",
            "relojes de pie y las herramientas con las que los artesanos tallaban a mano",
            "diminutos engranajes. Un taller reconstruido muestra cómo era la jornada de un",
            "aprendiz, desde barrer el suelo hasta pulir piezas de latón bajo la atenta mirada",
            "del maestro. Los paneles interactivos permiten a los niños construir un péndulo",
            "sencillo y descubrir cómo marca el tiempo. La muestra incluye también cartas y",
            "libros de cuentas que revelan cómo las familias ahorraban durante años para",
            "comprarse un reloj propio.",
        ),
        _para(
            "El final del otoño es un buen momento para preparar el jardín para los meses fríos.",
            "Rastrilla las hojas caídas del césped y amontónalas en un rincón, donde se",
            "convertirán poco a poco en un mantillo muy rico. Poda las plantas vivaces que ya han",
            "terminado de florecer, pero deja algunas cabezas de semillas para que se alimenten",
            "los pájaros. Vacía las macetas de verano y guárdalas en un cobertizo seco para",
            "evitar que se agrieten con las heladas. Todavía estás a tiempo de plantar bulbos de",
            "primavera como tulipanes y narcisos, siempre que la tierra esté blanda y sin helar.",
            "Por último, limpia y engrasa tus herramientas antes de guardarlas: estarán listas",
            "cuando vuelva el buen tiempo.",
        ),
    ),
    "de": (
        _para(
            "Bekanntmachung der Gemeinde Lindenbrück: Ab dem kommenden Monat wird der Grünschnitt",
            "nicht mehr dienstags, sondern donnerstags abgeholt. Die Bürgerinnen und Bürger",
            "werden gebeten, ihre Tonnen am Vorabend an den Straßenrand zu stellen und darauf zu",
            "achten, dass die Deckel richtig schließen. Äste müssen in kurze Stücke geschnitten",
            "und mit einer Schnur gebündelt werden. Die Gemeinde weist außerdem darauf hin, dass",
            "der Wertstoffhof in der Mühlenstraße in der ersten Woche des Monats wegen",
            "Reparaturarbeiten geschlossen bleibt. Fragen zum neuen Abholplan beantwortet das",
            "Bürgerbüro im Rathaus, das werktags vormittags geöffnet ist. Weitere Hinweise zur",
            "richtigen Trennung von Abfällen liegen dort ebenfalls zum Mitnehmen aus.",
        ),
        _para(
            "Wetteraussichten für die kommenden Tage: Nach einem grauen und feuchten Wochenbeginn",
            "sorgt ein Hochdruckgebiet ab Mittwoch für ruhigeres Wetter. In den Tälern bildet",
            "sich morgens häufig Nebel, der sich in Flussnähe nur langsam auflöst. Die",
            "Nachmittage bleiben überwiegend trocken mit freundlichen Abschnitten, doch eine",
            "leichte Brise aus Norden hält die Temperaturen unter dem jahreszeitlichen",
            "Durchschnitt. Zum Wochenende ziehen von Westen dichtere Wolken auf, die vereinzelte",
            "Schauer und an der Küste böigen Wind mitbringen. Hobbygärtner sollten empfindliche",
            "Pflanzen nachts abdecken, denn leichter Bodenfrost ist in geschützten Lagen nicht",
            "ausgeschlossen. Wer früh unterwegs ist, sollte auf glatte Stellen auf Brücken und",
            "Feldwegen achten.",
        ),
        _para(
            "Der neue Wasserkocher Aurora verbindet ein Gehäuse aus gebürstetem Edelstahl mit",
            "einem griffigen Henkel, der beim Erhitzen angenehm kühl bleibt. Das verdeckte",
            "Heizelement erleichtert die Reinigung, und der breite Deckel öffnet sich auf",
            "Knopfdruck, sodass sich das Gerät schnell am Wasserhahn füllen lässt. Ein",
            "herausnehmbarer Kalkfilter hält den Tee frei von Rückständen, während ein",
            "beleuchtetes Sichtfenster genau anzeigt, wie viel Wasser sich im Inneren befindet.",
            "Das Gerät schaltet sich automatisch ab, sobald das Wasser kocht, und funktioniert",
            "nicht, wenn es vom Sockel genommen wird. Erhältlich ist es in Anthrazit, Creme und",
            "einem tiefen Ozeanblau, jeweils mit voller Herstellergarantie und kostenlosem",
            "Versand innerhalb weniger Werktage.",
        ),
        _para(
            "Die alte Wassermühle am Dorfrand gehört zu den ältesten Gebäuden der Gegend. Erbaut",
            "wurde sie von einer Müllerfamilie, die über mehrere Generationen Weizen und Gerste",
            "für die umliegenden Höfe mahlte. In den langen Wintern fror das Mühlrad häufig ein,",
            "und die Dorfbewohner mussten das Eis von Hand aufbrechen, damit die Arbeit",
            "weitergehen konnte. Im vergangenen Jahrhundert verfiel das Gebäude, und nach einem",
            "schweren Sturm stürzte das Dach ein. Später setzte eine Gruppe von Freiwilligen die",
            "Mühle instand und ersetzte die morschen Balken durch Eichenholz aus einem nahe",
            "gelegenen Wald. Heute steht die Mühle Besuchern offen, die zusehen können, wie Mehl",
            "auf traditionelle Weise hergestellt wird.",
        ),
        _para(
            "Für eine einfache Gemüsesuppe zunächst etwas Olivenöl in einem großen Topf bei",
            "schwacher Hitze erwärmen. Eine gehackte Zwiebel, ein paar Karotten und eine",
            "Selleriestange hinzufügen und langsam weich dünsten, ohne dass sie Farbe annehmen.",
            "Danach eine Handvoll gewürfelte Kartoffeln, eine zerdrückte Knoblauchzehe und einen",
            "Zweig frischen Thymian unterrühren. So viel Gemüsebrühe angießen, dass alles bedeckt",
            "ist, kurz aufkochen und köcheln lassen, bis die Kartoffeln weich sind. Mit Salz und",
            "schwarzem Pfeffer abschmecken und einen Teil der Suppe pürieren, damit sie schön",
            "cremig wird. Heiß servieren, am besten mit knusprigem Brot und etwas geriebenem",
            "Käse. Reste lassen sich gut abgedeckt im Kühlschrank aufbewahren und am nächsten Tag",
            "aufwärmen.",
        ),
        _para(
            "Die Heimmannschaft zeigte am Samstagnachmittag eine kämpferische Leistung und drehte",
            "vor begeisterten Zuschauern ein spannendes Spiel. Die Gäste gingen nach einem",
            "Abwehrfehler früh in Führung, und lange Zeit in der ersten Halbzeit hatten die",
            "Gastgeber Mühe, den Ball in den eigenen Reihen zu halten. Nach der Pause stellte der",
            "Trainer im Mittelfeld mutig um, und die Mannschaft begann, deutlich früher zu",
            "pressen. Der Ausgleich fiel nach einer einstudierten Ecke, und kurz vor Schluss",
            "sorgte ein wuchtiger Kopfball am langen Pfosten für den Siegtreffer. Durch den",
            "Erfolg entfernt sich der Verein vom Tabellenende, bevor in der kommenden Woche das",
            "Lokalderby ansteht. Karten dafür gibt es bereits an der Geschäftsstelle des Vereins.",
        ),
        _para(
            "Die Stadtbücherei hat ihr Veranstaltungsprogramm für den Herbst vorgestellt. Jeden",
            "Mittwochabend trifft sich im Obergeschoss ein Lesekreis, um einen von den",
            "Mitgliedern ausgewählten Roman zu besprechen; für Tee und Gebäck ist gesorgt.",
            "Samstags am Vormittag können Kinder an einer Vorlesestunde teilnehmen, auf die",
            "kleine Bastelangebote folgen. Außerdem startet die Bücherei einen Lieferdienst, der",
            "Bücher zu Menschen bringt, die ihre Wohnung nur schwer verlassen können. Für die",
            "Auslieferung und das Aufräumen der Regale werden noch Ehrenamtliche gesucht. Wer",
            "Interesse hat, kann seine Kontaktdaten an der Theke hinterlassen oder während der",
            "Öffnungszeiten das Personal ansprechen.",
        ),
        _para(
            "Fahrgäste werden darauf hingewiesen, dass Bauarbeiten an den kommenden Wochenenden",
            "den Verkehr auf der Küstenstrecke beeinträchtigen. Die Züge zwischen dem",
            "Hafenbahnhof und dem Haltepunkt an der Universität werden durch Busse ersetzt,",
            "wodurch sich die Fahrzeit deutlich verlängern kann. In den Ersatzbussen können keine",
            "Fahrräder mitgenommen werden, daher sollten Radfahrer eine andere Route einplanen.",
            "Das Bahnunternehmen bittet um Verständnis und empfiehlt, vor Fahrtantritt den",
            "Fahrplan zu prüfen. Die Fahrkartenschalter bleiben wie gewohnt geöffnet, und",
            "Mitarbeitende in leuchtend orangefarbenen Westen helfen an jedem Bahnhof dabei, den",
            "Weg zu den Bushaltestellen zu finden.",
        ),
        _para(
            "Eine neue Ausstellung im Stadtmuseum widmet sich der Geschichte des",
            "Uhrmacherhandwerks in der Region. Zu sehen sind zierliche Taschenuhren, prächtige",
            "Standuhren und die Werkzeuge, mit denen Handwerker winzige Zahnräder von Hand",
            "fertigten. Eine nachgebaute Werkstatt zeigt, wie ein typischer Arbeitstag eines",
            "Lehrlings aussah, vom Fegen des Bodens bis zum Polieren von Messingteilen unter dem",
            "wachsamen Blick des Meisters. An interaktiven Stationen können Kinder ein einfaches",
            "Pendel bauen und herausfinden, wie es die Zeit misst. Außerdem zeigt die Ausstellung",
            "Briefe und Rechnungsbücher, die verraten, wie lange Familien sparen mussten, um sich",
            "eine eigene Uhr leisten zu können.",
        ),
        _para(
            "Der späte Herbst ist eine gute Zeit, um den Garten auf die kalten Monate",
            "vorzubereiten. Rechen Sie das Laub vom Rasen und schichten Sie es in einer Ecke auf,",
            "wo es sich langsam in wertvollen Laubkompost verwandelt. Schneiden Sie verblühte",
            "Stauden zurück, lassen Sie aber einige Samenstände für die Vögel stehen. Leeren Sie",
            "die Sommertöpfe und lagern Sie sie an einem trockenen Ort, damit sie bei Frost nicht",
            "springen. Blumenzwiebeln von Frühjahrsblühern wie Tulpen und Narzissen können noch",
            "gesetzt werden, solange der Boden nicht gefroren ist. Reinigen und ölen Sie zum",
            "Schluss Ihre Werkzeuge, bevor Sie sie wegräumen, dann sind sie bereit, sobald das",
            "Wetter wieder besser wird.",
        ),
    ),
}

# Words that must never appear in a distractor paragraph (checked at build time): small number
# words, so that no paragraph spells out a number that could be an answer, and yes/no words.
FORBIDDEN_DISTRACTOR_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "yes", "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "ten", "eleven", "twelve", "twenty", "thirty", "forty", "fifty", "hundred", "thousand",
        "dozen",
    ),
    "fr": (
        "oui", "non", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix",
        "onze", "douze", "vingt", "trente", "quarante", "cinquante", "soixante", "cent", "mille",
    ),
    "es": (
        "sí", "si", "no", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho",
        "nueve", "diez", "once", "doce", "veinte", "treinta", "cuarenta", "cincuenta", "cien",
        "ciento", "mil",
    ),
    "de": (
        "ja", "nein", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
        "zehn", "elf", "zwölf", "zwanzig", "dreißig", "vierzig", "fünfzig", "hundert",
        "tausend",
    ),
}  # fmt: skip

# --------------------------------------------------------------------------------------------
# Task 1: arithmetic
# --------------------------------------------------------------------------------------------

BARE_ARITHMETIC: L10n = {
    "en": "What is {a} {op} {b}?",
    "fr": "Combien font {a} {op} {b} ?",
    "es": "¿Cuánto es {a} {op} {b}?",
    "de": "Wie viel ist {a} {op} {b}?",
}


@dataclass(frozen=True)
class WordProblem:
    """A word problem ``x op y``; x and y are drawn from the ranges (defaults per operation)."""

    op: str  # add, sub, mul
    texts: L10n  # {A}, {B}: person names; {x}, {y}: the numbers
    x: tuple[int, int] | None = None
    y: tuple[int, int] | None = None

    def draw(self, rng: random.Random) -> tuple[int, int, int]:
        """``(x, y, answer)``; a subtraction always leaves at least 5."""
        (xlo, xhi), (ylo, yhi) = WORD_RANGES[self.op]
        if self.x:
            xlo, xhi = self.x
        if self.y:
            ylo, yhi = self.y
        x = rng.randint(xlo, xhi)
        if self.op == "sub":
            y = rng.randint(ylo, min(yhi, x - 5))
            return x, y, x - y
        y = rng.randint(ylo, yhi)
        return x, y, x + y if self.op == "add" else x * y


WORD_RANGES: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "add": ((5, 45), (3, 35)),
    "sub": ((15, 60), (2, 55)),
    "mul": ((2, 9), (3, 12)),
}

WORD_PROBLEMS: tuple[WordProblem, ...] = (
    WordProblem(
        "sub",
        {
            "en": "{A} has {x} books and gives {y} of them to {B}. How many books does {A} have now?",
            "fr": "{A} a {x} livres et en donne {y} à {B}. Combien de livres reste-t-il à {A} ?",
            "es": "{A} tiene {x} libros y le da {y} a {B}. ¿Cuántos libros tiene {A} ahora?",
            "de": "{A} hat {x} Bücher und verschenkt {y} davon an {B}. Wie viele Bücher hat {A} jetzt?",
        },
    ),
    WordProblem(
        "add",
        {
            "en": "{A} has {x} apples and buys {y} more. How many apples does {A} have now?",
            "fr": "{A} a {x} pommes et en achète {y} de plus. Combien de pommes a {A} maintenant ?",
            "es": "{A} tiene {x} manzanas y compra {y} más. ¿Cuántas manzanas tiene {A} ahora?",
            "de": "{A} hat {x} Äpfel und kauft {y} weitere dazu. Wie viele Äpfel hat {A} jetzt?",
        },
    ),
    WordProblem(
        "mul",
        {
            "en": "{A} buys {x} boxes of pencils. Each box contains {y} pencils. "
            "How many pencils does {A} buy in total?",
            "fr": "{A} achète {x} boîtes de crayons. Chaque boîte contient {y} crayons. "
            "Combien de crayons y a-t-il au total ?",
            "es": "{A} compra {x} cajas de lápices. Cada caja contiene {y} lápices. "
            "¿Cuántos lápices compra {A} en total?",
            "de": "{A} kauft {x} Schachteln mit Bleistiften. In jeder Schachtel sind {y} "
            "Bleistifte. Wie viele Bleistifte kauft {A} insgesamt?",
        },
    ),
    WordProblem(
        "add",
        {
            "en": "{A} has {x} stamps and {B} has {y} stamps. How many stamps do {A} and {B} have together?",
            "fr": "{A} a {x} timbres et {B} a {y} timbres. Combien de timbres ont {A} et {B} ensemble ?",
            "es": "{A} tiene {x} sellos y {B} tiene {y} sellos. ¿Cuántos sellos tienen {A} y {B} en total?",
            "de": "{A} hat {x} Briefmarken und {B} hat {y} Briefmarken. "
            "Wie viele Briefmarken haben {A} und {B} zusammen?",
        },
    ),
    WordProblem(
        "add",
        {
            "en": "{A} reads {x} pages on Monday and {y} pages on Tuesday. How many pages does {A} read in total?",
            "fr": "{A} lit {x} pages lundi et {y} pages mardi. Combien de pages lit {A} au total ?",
            "es": "{A} lee {x} páginas el lunes y {y} páginas el martes. ¿Cuántas páginas lee {A} en total?",
            "de": "{A} liest am Montag {x} Seiten und am Dienstag {y} Seiten. Wie viele Seiten liest {A} insgesamt?",
        },
    ),
    WordProblem(
        "sub",
        {
            "en": "{A} had {x} eggs and used {y} of them to bake a cake. How many eggs does {A} have left?",
            "fr": "{A} avait {x} œufs et en a utilisé {y} pour faire un gâteau. Combien d'œufs reste-t-il à {A} ?",
            "es": "{A} tenía {x} huevos y usó {y} para hacer un pastel. ¿Cuántos huevos le quedan a {A}?",
            "de": "{A} hatte {x} Eier und hat {y} davon für einen Kuchen verwendet. Wie viele Eier hat {A} noch?",
        },
        x=(12, 30),
        y=(2, 9),
    ),
    WordProblem(
        "mul",
        {
            "en": "{A} sets up {x} rows of chairs with {y} chairs in each row. "
            "How many chairs does {A} set up in total?",
            "fr": "{A} installe {x} rangées de chaises, avec {y} chaises dans chaque rangée. "
            "Combien de chaises y a-t-il au total ?",
            "es": "{A} coloca {x} filas de sillas, con {y} sillas en cada fila. ¿Cuántas sillas hay en total?",
            "de": "{A} stellt {x} Stuhlreihen mit je {y} Stühlen auf. Wie viele Stühle sind das insgesamt?",
        },
    ),
    WordProblem(
        "mul",
        {
            "en": "{A} puts {y} coins into an empty jar every day for {x} days. "
            "How many coins are in the jar after {x} days?",
            "fr": "{A} met {y} pièces dans une tirelire vide chaque jour pendant {x} jours. "
            "Combien de pièces y a-t-il dans la tirelire au bout de {x} jours ?",
            "es": "{A} mete {y} monedas en una hucha vacía cada día durante {x} días. "
            "¿Cuántas monedas hay en la hucha al cabo de {x} días?",
            "de": "{A} legt {x} Tage lang jeden Tag {y} Münzen in eine anfangs leere "
            "Spardose. Wie viele Münzen sind danach in der Spardose?",
        },
    ),
    WordProblem(
        "sub",
        {
            "en": "{A} had {x} marbles and lost {y} of them. How many marbles does {A} have now?",
            "fr": "{A} avait {x} billes et en a perdu {y}. Combien de billes reste-t-il à {A} ?",
            "es": "{A} tenía {x} canicas y perdió {y}. ¿Cuántas canicas tiene {A} ahora?",
            "de": "{A} hatte {x} Murmeln und hat {y} davon verloren. Wie viele Murmeln hat {A} jetzt?",
        },
    ),
    WordProblem(
        "add",
        {
            "en": "{A} has {x} stickers. {B} gives {A} {y} more stickers. How many stickers does {A} have now?",
            "fr": "{A} a {x} autocollants. {B} lui en donne encore {y}. Combien d'autocollants a {A} maintenant ?",
            "es": "{A} tiene {x} pegatinas. {B} le da {y} pegatinas más. ¿Cuántas pegatinas tiene {A} ahora?",
            "de": "{A} hat {x} Aufkleber. {B} schenkt {A} {y} weitere Aufkleber. Wie viele Aufkleber hat {A} jetzt?",
        },
    ),
)

# --------------------------------------------------------------------------------------------
# Task 2: capitals. Sovereign states with a single, uncontested capital.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    en: str  # as used after "the capital of"
    fr: str  # "de la France", "du Japon", ...
    es: str  # "de Francia", "del Reino Unido", ...
    de: str  # "von Frankreich", "der Türkei", ...
    capital: L10n  # capital in each language
    variants: tuple[str, ...] = ()  # further accepted spellings

    def accepted(self, lang: str) -> list[str]:
        names = [self.capital[lang], self.capital["en"], *self.variants]
        return list(dict.fromkeys(names))


def _cap(en: str, fr: str, es: str, de: str) -> L10n:
    return {"en": en, "fr": fr, "es": es, "de": de}


COUNTRIES: tuple[Country, ...] = (
    Country("France", "de la France", "de Francia", "von Frankreich",
            _cap("Paris", "Paris", "París", "Paris")),
    Country("Germany", "de l'Allemagne", "de Alemania", "von Deutschland",
            _cap("Berlin", "Berlin", "Berlín", "Berlin")),
    Country("Italy", "de l'Italie", "de Italia", "von Italien",
            _cap("Rome", "Rome", "Roma", "Rom"), ("Roma",)),
    Country("Spain", "de l'Espagne", "de España", "von Spanien",
            _cap("Madrid", "Madrid", "Madrid", "Madrid")),
    Country("Japan", "du Japon", "de Japón", "von Japan",
            _cap("Tokyo", "Tokyo", "Tokio", "Tokio"), ("Tokio", "Tōkyō")),
    Country("Egypt", "de l'Égypte", "de Egipto", "von Ägypten",
            _cap("Cairo", "Le Caire", "El Cairo", "Kairo"), ("Le Caire", "El Cairo", "Kairo")),
    Country("Canada", "du Canada", "de Canadá", "von Kanada",
            _cap("Ottawa", "Ottawa", "Ottawa", "Ottawa")),
    Country("Australia", "de l'Australie", "de Australia", "von Australien",
            _cap("Canberra", "Canberra", "Canberra", "Canberra")),
    Country("Brazil", "du Brésil", "de Brasil", "von Brasilien",
            _cap("Brasília", "Brasilia", "Brasilia", "Brasília"), ("Brasilia", "Brasília")),
    Country("Kenya", "du Kenya", "de Kenia", "von Kenia",
            _cap("Nairobi", "Nairobi", "Nairobi", "Nairobi")),
    Country("Peru", "du Pérou", "de Perú", "von Peru",
            _cap("Lima", "Lima", "Lima", "Lima")),
    Country("Norway", "de la Norvège", "de Noruega", "von Norwegen",
            _cap("Oslo", "Oslo", "Oslo", "Oslo")),
    Country("the United Kingdom", "du Royaume-Uni", "del Reino Unido",
            "des Vereinigten Königreichs", _cap("London", "Londres", "Londres", "London")),
    Country("Russia", "de la Russie", "de Rusia", "von Russland",
            _cap("Moscow", "Moscou", "Moscú", "Moskau"), ("Moskva", "Moskau", "Moscú")),
    Country("China", "de la Chine", "de China", "von China",
            _cap("Beijing", "Pékin", "Pekín", "Peking"), ("Peking", "Pékin", "Pekín", "Beijing")),
    Country("Argentina", "de l'Argentine", "de Argentina", "von Argentinien",
            _cap("Buenos Aires", "Buenos Aires", "Buenos Aires", "Buenos Aires")),
    Country("Greece", "de la Grèce", "de Grecia", "von Griechenland",
            _cap("Athens", "Athènes", "Atenas", "Athen"), ("Athína", "Athina")),
    Country("Portugal", "du Portugal", "de Portugal", "von Portugal",
            _cap("Lisbon", "Lisbonne", "Lisboa", "Lissabon"), ("Lisboa",)),
    Country("Sweden", "de la Suède", "de Suecia", "von Schweden",
            _cap("Stockholm", "Stockholm", "Estocolmo", "Stockholm")),
    Country("Poland", "de la Pologne", "de Polonia", "von Polen",
            _cap("Warsaw", "Varsovie", "Varsovia", "Warschau"), ("Warszawa",)),
    Country("Turkey", "de la Turquie", "de Turquía", "der Türkei",
            _cap("Ankara", "Ankara", "Ankara", "Ankara")),
    Country("Austria", "de l'Autriche", "de Austria", "von Österreich",
            _cap("Vienna", "Vienne", "Viena", "Wien"), ("Wien",)),
    Country("Ireland", "de l'Irlande", "de Irlanda", "von Irland",
            _cap("Dublin", "Dublin", "Dublín", "Dublin")),
    Country("Thailand", "de la Thaïlande", "de Tailandia", "von Thailand",
            _cap("Bangkok", "Bangkok", "Bangkok", "Bangkok")),
    Country("South Korea", "de la Corée du Sud", "de Corea del Sur", "von Südkorea",
            _cap("Seoul", "Séoul", "Seúl", "Seoul")),
    Country("Nigeria", "du Nigeria", "de Nigeria", "von Nigeria",
            _cap("Abuja", "Abuja", "Abuja", "Abuja")),
    Country("Chile", "du Chili", "de Chile", "von Chile",
            _cap("Santiago", "Santiago", "Santiago de Chile", "Santiago de Chile"),
            ("Santiago de Chile",)),
    Country("Finland", "de la Finlande", "de Finlandia", "von Finnland",
            _cap("Helsinki", "Helsinki", "Helsinki", "Helsinki")),
    Country("Denmark", "du Danemark", "de Dinamarca", "von Dänemark",
            _cap("Copenhagen", "Copenhague", "Copenhague", "Kopenhagen"), ("København",)),
    Country("Hungary", "de la Hongrie", "de Hungría", "von Ungarn",
            _cap("Budapest", "Budapest", "Budapest", "Budapest")),
    Country("Vietnam", "du Vietnam", "de Vietnam", "von Vietnam",
            _cap("Hanoi", "Hanoï", "Hanói", "Hanoi"), ("Hà Nội", "Hanoi")),
    Country("Morocco", "du Maroc", "de Marruecos", "von Marokko",
            _cap("Rabat", "Rabat", "Rabat", "Rabat")),
    Country("Cuba", "de Cuba", "de Cuba", "von Kuba",
            _cap("Havana", "La Havane", "La Habana", "Havanna"), ("La Habana", "Habana")),
    Country("New Zealand", "de la Nouvelle-Zélande", "de Nueva Zelanda", "von Neuseeland",
            _cap("Wellington", "Wellington", "Wellington", "Wellington")),
    Country("Ghana", "du Ghana", "de Ghana", "von Ghana",
            _cap("Accra", "Accra", "Acra", "Accra"), ("Acra",)),
    Country("Colombia", "de la Colombie", "de Colombia", "von Kolumbien",
            _cap("Bogotá", "Bogota", "Bogotá", "Bogotá"), ("Bogota", "Bogotá")),
    Country("Belgium", "de la Belgique", "de Bélgica", "von Belgien",
            _cap("Brussels", "Bruxelles", "Bruselas", "Brüssel"), ("Bruxelles", "Brussel")),
)  # fmt: skip

CAPITAL_QUESTION: L10n = {
    "en": "What is the capital of {c}?",
    "fr": "Quelle est la capitale {c} ?",
    "es": "¿Cuál es la capital {c}?",
    "de": "Wie heißt die Hauptstadt {c}?",
}

# --------------------------------------------------------------------------------------------
# Task 3: yes/no facts (unambiguous, not time-dependent). True -> yes, False -> no.
# --------------------------------------------------------------------------------------------


def _q(en: str, fr: str, es: str, de: str) -> L10n:
    return {"en": en, "fr": fr, "es": es, "de": de}


YES_NO_FACTS: tuple[tuple[bool, L10n], ...] = (
    (True, _q("Is the Sun a star?", "Le Soleil est-il une étoile ?",
              "¿Es el Sol una estrella?", "Ist die Sonne ein Stern?")),
    (True, _q("Is water made of hydrogen and oxygen?",
              "L'eau est-elle composée d'hydrogène et d'oxygène ?",
              "¿El agua está formada por hidrógeno y oxígeno?",
              "Besteht Wasser aus Wasserstoff und Sauerstoff?")),
    (True, _q("Is the Pacific Ocean the largest ocean on Earth?",
              "L'océan Pacifique est-il le plus grand océan de la Terre ?",
              "¿Es el océano Pacífico el océano más grande de la Tierra?",
              "Ist der Pazifische Ozean der größte Ozean der Erde?")),
    (True, _q("Do honeybees make honey?", "Les abeilles domestiques produisent-elles du miel ?",
              "¿Producen miel las abejas melíferas?", "Stellen Honigbienen Honig her?")),
    (True, _q("Is the whale a mammal?", "La baleine est-elle un mammifère ?",
              "¿Es la ballena un mamífero?", "Ist der Wal ein Säugetier?")),
    (True, _q("Does ice float on water?", "La glace flotte-t-elle sur l'eau ?",
              "¿El hielo flota en el agua?", "Schwimmt Eis auf Wasser?")),
    (True, _q("Is Mount Everest the highest mountain in the world?",
              "Le mont Everest est-il la plus haute montagne du monde ?",
              "¿Es el monte Everest la montaña más alta del mundo?",
              "Ist der Mount Everest der höchste Berg der Welt?")),
    (True, _q("Does the Earth orbit the Sun?", "La Terre tourne-t-elle autour du Soleil ?",
              "¿La Tierra gira alrededor del Sol?", "Kreist die Erde um die Sonne?")),
    (True, _q("Does a triangle have three sides?", "Un triangle a-t-il trois côtés ?",
              "¿Tiene un triángulo tres lados?", "Hat ein Dreieck drei Seiten?")),
    (True, _q("Is gold a metal?", "L'or est-il un métal ?",
              "¿Es el oro un metal?", "Ist Gold ein Metall?")),
    (True, _q("Is the Moon smaller than the Earth?",
              "La Lune est-elle plus petite que la Terre ?",
              "¿Es la Luna más pequeña que la Tierra?", "Ist der Mond kleiner als die Erde?")),
    (True, _q("Does a week have seven days?", "Une semaine compte-t-elle sept jours ?",
              "¿Tiene una semana siete días?", "Hat eine Woche sieben Tage?")),
    (True, _q("Is the penguin a bird?", "Le manchot est-il un oiseau ?",
              "¿Es el pingüino un ave?", "Ist der Pinguin ein Vogel?")),
    (True, _q("Does the heart pump blood through the body?",
              "Le cœur pompe-t-il le sang dans le corps ?",
              "¿Bombea el corazón la sangre por el cuerpo?",
              "Pumpt das Herz Blut durch den Körper?")),
    (False, _q("Do spiders have six legs?", "Les araignées ont-elles six pattes ?",
               "¿Tienen las arañas seis patas?", "Haben Spinnen sechs Beine?")),
    (False, _q("Is the Moon a planet?", "La Lune est-elle une planète ?",
               "¿Es la Luna un planeta?", "Ist der Mond ein Planet?")),
    (False, _q("Is the Sahara Desert in South America?",
               "Le désert du Sahara se trouve-t-il en Amérique du Sud ?",
               "¿Está el desierto del Sahara en América del Sur?",
               "Liegt die Wüste Sahara in Südamerika?")),
    (False, _q("Is the dolphin a fish?", "Le dauphin est-il un poisson ?",
               "¿Es el delfín un pez?", "Ist der Delfin ein Fisch?")),
    (False, _q("Is Paris the capital of Italy?", "La capitale de l'Italie est-elle Paris ?",
               "¿Es París la capital de Italia?", "Ist Paris die Hauptstadt von Italien?")),
    (False, _q("Is the Sun a planet?", "Le Soleil est-il une planète ?",
               "¿Es el Sol un planeta?", "Ist die Sonne ein Planet?")),
    (False, _q("Is the Atlantic Ocean larger than the Pacific Ocean?",
               "L'océan Atlantique est-il plus grand que l'océan Pacifique ?",
               "¿Es el océano Atlántico más grande que el océano Pacífico?",
               "Ist der Atlantische Ozean größer als der Pazifische Ozean?")),
    (False, _q("Does a square have five sides?", "Un carré a-t-il cinq côtés ?",
               "¿Tiene un cuadrado cinco lados?", "Hat ein Quadrat fünf Seiten?")),
    (False, _q("Is the Earth flat?", "La Terre est-elle plate ?",
               "¿Es plana la Tierra?", "Ist die Erde flach?")),
    (False, _q("Do cows lay eggs?", "Les vaches pondent-elles des œufs ?",
               "¿Ponen huevos las vacas?", "Legen Kühe Eier?")),
    (False, _q("Is Mars the closest planet to the Sun?",
               "La planète Mars est-elle la plus proche du Soleil ?",
               "¿Es Marte el planeta más cercano al Sol?",
               "Ist der Mars der Planet, der der Sonne am nächsten ist?")),
    (False, _q("Is iron a gas at room temperature?",
               "Le fer est-il un gaz à température ambiante ?",
               "¿Es el hierro un gas a temperatura ambiente?",
               "Ist Eisen bei Raumtemperatur ein Gas?")),
    (False, _q("Is the bat a bird?", "La chauve-souris est-elle un oiseau ?",
               "¿Es el murciélago un ave?", "Ist die Fledermaus ein Vogel?")),
    (False, _q("Does gold float on water?", "L'or flotte-t-il sur l'eau ?",
               "¿El oro flota en el agua?", "Schwimmt Gold auf Wasser?")),
)  # fmt: skip

# --------------------------------------------------------------------------------------------
# Task 4: unit conversion
# --------------------------------------------------------------------------------------------

UNITS: dict[str, L10n] = {  # plural forms
    "km": {"en": "kilometres", "fr": "kilomètres", "es": "kilómetros", "de": "Kilometer"},
    "m": {"en": "metres", "fr": "mètres", "es": "metros", "de": "Meter"},
    "cm": {"en": "centimetres", "fr": "centimètres", "es": "centímetros", "de": "Zentimeter"},
    "mm": {"en": "millimetres", "fr": "millimètres", "es": "milímetros", "de": "Millimeter"},
    "kg": {"en": "kilograms", "fr": "kilogrammes", "es": "kilogramos", "de": "Kilogramm"},
    "g": {"en": "grams", "fr": "grammes", "es": "gramos", "de": "Gramm"},
    "l": {"en": "litres", "fr": "litres", "es": "litros", "de": "Liter"},
    "ml": {"en": "millilitres", "fr": "millilitres", "es": "mililitros", "de": "Milliliter"},
    "h": {"en": "hours", "fr": "heures", "es": "horas", "de": "Stunden"},
    "min": {"en": "minutes", "fr": "minutes", "es": "minutos", "de": "Minuten"},
    "s": {"en": "seconds", "fr": "secondes", "es": "segundos", "de": "Sekunden"},
    "day": {"en": "days", "fr": "jours", "es": "días", "de": "Tage"},
    "week": {"en": "weeks", "fr": "semaines", "es": "semanas", "de": "Wochen"},
}
ES_FEMININE_UNITS = ("h", "week")

# (from, to, factor, half values allowed): value in "from" times factor = value in "to".
FORWARD_CONVERSIONS: tuple[tuple[str, str, int, bool], ...] = (
    ("km", "m", 1000, True),
    ("m", "cm", 100, True),
    ("cm", "mm", 10, True),
    ("kg", "g", 1000, True),
    ("l", "ml", 1000, True),
    ("h", "min", 60, True),
    ("min", "s", 60, False),
    ("day", "h", 24, False),
    ("week", "day", 7, False),
)
# (from, to, divisor): value in "from" divided by divisor = value in "to" (always integral).
REVERSE_CONVERSIONS: tuple[tuple[str, str, int], ...] = (
    ("m", "km", 1000),
    ("g", "kg", 1000),
    ("ml", "l", 1000),
    ("min", "h", 60),
    ("mm", "cm", 10),
    ("s", "min", 60),
    ("h", "day", 24),
    ("cm", "m", 100),
)
# Word problems with a person: (from, to) -> setup sentence; the question is "how many <to>?".
NAMED_CONVERSIONS: dict[tuple[str, str], L10n] = {
    ("km", "m"): _q("{name} walks {v} kilometres.", "{name} marche {v} kilomètres.",
                    "{name} camina {v} kilómetros.", "{name} wandert {v} Kilometer."),
    ("kg", "g"): _q("{name} buys {v} kilograms of flour.",
                    "{name} achète {v} kilogrammes de farine.",
                    "{name} compra {v} kilogramos de harina.", "{name} kauft {v} Kilogramm Mehl."),
    ("l", "ml"): _q("{name} pours {v} litres of water into a bucket.",
                    "{name} verse {v} litres d'eau dans un seau.",
                    "{name} echa {v} litros de agua en un cubo.",
                    "{name} gießt {v} Liter Wasser in einen Eimer."),
    ("h", "min"): _q("{name} studies for {v} hours.", "{name} étudie pendant {v} heures.",
                     "{name} estudia durante {v} horas.", "{name} lernt {v} Stunden lang."),
    ("m", "cm"): _q("{name} has a rope that is {v} metres long.",
                    "{name} a une corde de {v} mètres de long.",
                    "{name} tiene una cuerda de {v} metros de largo.",
                    "{name} hat ein Seil, das {v} Meter lang ist."),
    ("day", "h"): _q("{name} stays in a hotel for {v} days.",
                     "{name} séjourne {v} jours à l'hôtel.",
                     "{name} se aloja {v} días en un hotel.",
                     "{name} bleibt {v} Tage in einem Hotel."),
    ("week", "day"): _q("{name} travels for {v} weeks.", "{name} voyage pendant {v} semaines.",
                        "{name} viaja durante {v} semanas.", "{name} reist {v} Wochen lang."),
}  # fmt: skip


def _fr_de(word: str) -> str:
    """French "de" with elision: "de mètres", "d'heures"."""
    return f"d'{word}" if word[0] in "aeiouéh" else f"de {word}"


def _es_cuantos(unit: str) -> str:
    return "¿Cuántas" if unit in ES_FEMININE_UNITS else "¿Cuántos"


def forward_question(lang: str, value: str, src: str, dst: str) -> str:
    s, d = UNITS[src][lang], UNITS[dst][lang]
    if lang == "en":
        return f"How many {d} are there in {value} {s}?"
    if lang == "fr":
        return f"Combien {_fr_de(d)} y a-t-il dans {value} {s} ?"
    if lang == "es":
        return f"{_es_cuantos(dst)} {d} hay en {value} {s}?"
    return f"Wie viele {d} sind {value} {s}?"


def reverse_question(lang: str, value: str, src: str, dst: str) -> str:
    s, d = UNITS[src][lang], UNITS[dst][lang]
    if lang == "en":
        return f"Convert {value} {s} to {d}."
    if lang == "fr":
        return f"Convertissez {value} {s} en {d}."
    if lang == "es":
        return f"Convierte {value} {s} a {d}."
    return f"Rechne {value} {s} in {d} um."


def named_question(lang: str, setup: str, dst: str) -> str:
    d = UNITS[dst][lang]
    if lang == "en":
        return f"{setup} How many {d} is that?"
    if lang == "fr":
        return f"{setup} Combien {_fr_de(d)} cela fait-il ?"
    if lang == "es":
        return f"{setup} {_es_cuantos(dst)} {d} son?"
    return f"{setup} Wie viele {d} sind das?"


def format_tenths(tenths: int, lang: str) -> str:
    """A value given in tenths, written the way the language writes decimals (no grouping)."""
    whole, frac = divmod(tenths, 10)
    if frac == 0:
        return str(whole)
    return f"{whole}{'.' if lang == 'en' else ','}{frac}"


# --------------------------------------------------------------------------------------------
# Task 5: JSON extraction
# --------------------------------------------------------------------------------------------

EXTRACTION_TEXTS: dict[str, tuple[str, ...]] = {
    "en": (
        "{name} is {age} years old and lives in {city}.",
        "{name} lives in {city}. At {age}, {name} loves cooking and hiking.",
        "The library in {city} has a new volunteer: {name}, {age}, who helps with the reading club every Saturday.",
        "{name} ({age}) runs a small café in {city}.",
    ),
    "fr": (
        "{name} a {age} ans et habite à {city}.",
        "{name} habite à {city}. À {age} ans, {name} adore la cuisine et la randonnée.",
        "La bibliothèque de {city} accueille une nouvelle recrue : {name}, {age} ans, qui anime "
        "le club de lecture chaque samedi.",
        "{name} ({age} ans) tient un petit café à {city}.",
    ),
    "es": (
        "{name} tiene {age} años y vive en {city}.",
        "{name} vive en {city}. Con {age} años, a {name} le encanta cocinar y hacer senderismo.",
        "Hay una nueva incorporación en la biblioteca de {city}: {name}, de {age} años, que "
        "ayuda en el club de lectura todos los sábados.",
        "{name} ({age} años) regenta una pequeña cafetería en {city}.",
    ),
    "de": (
        "{name} ist {age} Jahre alt und wohnt in {city}.",
        "{name} wohnt in {city}. Mit {age} Jahren kocht {name} gern und geht oft wandern.",
        "Die Bibliothek in {city} hat Verstärkung bekommen: {name}, {age} Jahre alt, hilft "
        "jeden Samstag beim Leseclub.",
        "{name} ({age}) betreibt ein kleines Café in {city}.",
    ),
}
_SHAPE = '{"name": ..., "age": ..., "city": ...}'
EXTRACTION_PROMPT: dict[str, tuple[str, str, str]] = {  # (before text, text label, after)
    "en": (
        "Extract the name, age and city of the person described in the following text.",
        "Text:",
        f"Reply with JSON only, exactly in the form {_SHAPE}, with the age as a number.",
    ),
    "fr": (
        "Extrayez le nom, l'âge et la ville de la personne décrite dans le texte suivant.",
        "Texte :",
        f"Répondez uniquement en JSON, exactement sous la forme {_SHAPE}, avec l'âge sous forme de nombre.",
    ),
    "es": (
        "Extrae el nombre, la edad y la ciudad de la persona descrita en el siguiente texto.",
        "Texto:",
        f"Responde solo con JSON, exactamente con la forma {_SHAPE}, con la edad como número.",
    ),
    "de": (
        "Entnimm dem folgenden Text den Namen, das Alter und die Stadt der beschriebenen Person.",
        "Text:",
        f"Antworte nur mit JSON, genau in der Form {_SHAPE}, wobei das Alter eine Zahl ist.",
    ),
}

# --------------------------------------------------------------------------------------------
# Task 6: multiple choice. Each fact: {lang: (question, correct option, wrong options)}.
# --------------------------------------------------------------------------------------------

MCFact: TypeAlias = dict[str, tuple[str, str, tuple[str, str, str]]]

MC_FACTS: tuple[MCFact, ...] = (
    {
        "en": ("Which is the largest planet in our Solar System?", "Jupiter",
               ("Mars", "Venus", "Mercury")),
        "fr": ("Quelle est la plus grande planète du Système solaire ?", "Jupiter",
               ("Mars", "Vénus", "Mercure")),
        "es": ("¿Cuál es el planeta más grande del sistema solar?", "Júpiter",
               ("Marte", "Venus", "Mercurio")),
        "de": ("Welcher ist der größte Planet unseres Sonnensystems?", "Jupiter",
               ("Mars", "Venus", "Merkur")),
    },
    {
        "en": ("At what temperature does water boil at sea level?", "100 °C",
               ("50 °C", "80 °C", "150 °C")),
        "fr": ("À quelle température l'eau bout-elle au niveau de la mer ?", "100 °C",
               ("50 °C", "80 °C", "150 °C")),
        "es": ("¿A qué temperatura hierve el agua al nivel del mar?", "100 °C",
               ("50 °C", "80 °C", "150 °C")),
        "de": ("Bei welcher Temperatur siedet Wasser auf Meereshöhe?", "100 °C",
               ("50 °C", "80 °C", "150 °C")),
    },
    {
        "en": ("How many legs does an insect have?", "6", ("4", "8", "10")),
        "fr": ("Combien de pattes a un insecte ?", "6", ("4", "8", "10")),
        "es": ("¿Cuántas patas tiene un insecto?", "6", ("4", "8", "10")),
        "de": ("Wie viele Beine hat ein Insekt?", "6", ("4", "8", "10")),
    },
    {
        "en": ("How many days are there in a leap year?", "366", ("365", "364", "360")),
        "fr": ("Combien de jours compte une année bissextile ?", "366", ("365", "364", "360")),
        "es": ("¿Cuántos días tiene un año bisiesto?", "366", ("365", "364", "360")),
        "de": ("Wie viele Tage hat ein Schaltjahr?", "366", ("365", "364", "360")),
    },
    {
        "en": ("Which gas do plants take in from the air to make their food?", "Carbon dioxide",
               ("Oxygen", "Nitrogen", "Helium")),
        "fr": ("Quel gaz les plantes absorbent-elles dans l'air pour fabriquer leur nourriture ?",
               "Dioxyde de carbone", ("Oxygène", "Azote", "Hélium")),
        "es": ("¿Qué gas toman las plantas del aire para fabricar su alimento?",
               "Dióxido de carbono", ("Oxígeno", "Nitrógeno", "Helio")),
        "de": ("Welches Gas nehmen Pflanzen aus der Luft auf, um ihre Nahrung herzustellen?",
               "Kohlendioxid", ("Sauerstoff", "Stickstoff", "Helium")),
    },
    {
        "en": ("What is the chemical formula of water?", "H2O", ("CO2", "O2", "NaCl")),
        "fr": ("Quelle est la formule chimique de l'eau ?", "H2O", ("CO2", "O2", "NaCl")),
        "es": ("¿Cuál es la fórmula química del agua?", "H2O", ("CO2", "O2", "NaCl")),
        "de": ("Wie lautet die chemische Formel von Wasser?", "H2O", ("CO2", "O2", "NaCl")),
    },
    {
        "en": ("Which is the largest ocean on Earth?", "Pacific Ocean",
               ("Atlantic Ocean", "Indian Ocean", "Arctic Ocean")),
        "fr": ("Quel est le plus grand océan de la Terre ?", "Océan Pacifique",
               ("Océan Atlantique", "Océan Indien", "Océan Arctique")),
        "es": ("¿Cuál es el océano más grande de la Tierra?", "Océano Pacífico",
               ("Océano Atlántico", "Océano Índico", "Océano Ártico")),
        "de": ("Welcher ist der größte Ozean der Erde?", "Pazifischer Ozean",
               ("Atlantischer Ozean", "Indischer Ozean", "Nordpolarmeer")),
    },
    {
        "en": ("Which of these animals is the heaviest?", "Blue whale",
               ("Elephant", "Giraffe", "Horse")),
        "fr": ("Lequel de ces animaux est le plus lourd ?", "Baleine bleue",
               ("Éléphant", "Girafe", "Cheval")),
        "es": ("¿Cuál de estos animales es el más pesado?", "Ballena azul",
               ("Elefante", "Jirafa", "Caballo")),
        "de": ("Welches dieser Tiere ist am schwersten?", "Blauwal",
               ("Elefant", "Giraffe", "Pferd")),
    },
    {
        "en": ("How many sides does a hexagon have?", "6", ("5", "7", "8")),
        "fr": ("Combien de côtés a un hexagone ?", "6", ("5", "7", "8")),
        "es": ("¿Cuántos lados tiene un hexágono?", "6", ("5", "7", "8")),
        "de": ("Wie viele Seiten hat ein Sechseck?", "6", ("5", "7", "8")),
    },
    {
        "en": ("Which is the smallest prime number?", "2", ("1", "4", "9")),
        "fr": ("Quel est le plus petit nombre premier ?", "2", ("1", "4", "9")),
        "es": ("¿Cuál es el número primo más pequeño?", "2", ("1", "4", "9")),
        "de": ("Was ist die kleinste Primzahl?", "2", ("1", "4", "9")),
    },
    {
        "en": ("At what temperature does water freeze, in degrees Celsius?", "0 °C",
               ("10 °C", "-10 °C", "32 °C")),
        "fr": ("À quelle température l'eau gèle-t-elle, en degrés Celsius ?", "0 °C",
               ("10 °C", "-10 °C", "32 °C")),
        "es": ("¿A qué temperatura se congela el agua, en grados Celsius?", "0 °C",
               ("10 °C", "-10 °C", "32 °C")),
        "de": ("Bei welcher Temperatur gefriert Wasser, in Grad Celsius?", "0 °C",
               ("10 °C", "-10 °C", "32 °C")),
    },
    {
        "en": ("Which planet is known as the Red Planet?", "Mars",
               ("Venus", "Jupiter", "Saturn")),
        "fr": ("Quelle planète est surnommée la planète rouge ?", "Mars",
               ("Vénus", "Jupiter", "Saturne")),
        "es": ("¿Qué planeta es conocido como el planeta rojo?", "Marte",
               ("Venus", "Júpiter", "Saturno")),
        "de": ("Welcher Planet wird der Rote Planet genannt?", "Mars",
               ("Venus", "Jupiter", "Saturn")),
    },
    {
        "en": ("How many minutes are there in an hour?", "60", ("30", "90", "100")),
        "fr": ("Combien de minutes y a-t-il dans une heure ?", "60", ("30", "90", "100")),
        "es": ("¿Cuántos minutos tiene una hora?", "60", ("30", "90", "100")),
        "de": ("Wie viele Minuten hat eine Stunde?", "60", ("30", "90", "100")),
    },
    {
        "en": ("Which is the largest continent by area?", "Asia",
               ("Africa", "Europe", "South America")),
        "fr": ("Quel est le plus grand continent en superficie ?", "Asie",
               ("Afrique", "Europe", "Amérique du Sud")),
        "es": ("¿Cuál es el continente más grande por superficie?", "Asia",
               ("África", "Europa", "América del Sur")),
        "de": ("Welcher ist der flächenmäßig größte Kontinent?", "Asien",
               ("Afrika", "Europa", "Südamerika")),
    },
    {
        "en": ("Which organ pumps blood around the body?", "Heart",
               ("Liver", "Lungs", "Stomach")),
        "fr": ("Quel organe fait circuler le sang dans le corps ?", "Le cœur",
               ("Le foie", "Les poumons", "L'estomac")),
        "es": ("¿Qué órgano bombea la sangre por el cuerpo?", "El corazón",
               ("El hígado", "Los pulmones", "El estómago")),
        "de": ("Welches Organ pumpt das Blut durch den Körper?", "Das Herz",
               ("Die Leber", "Die Lunge", "Der Magen")),
    },
    {
        "en": ("Which colour do you get when you mix blue and yellow paint?", "Green",
               ("Purple", "Orange", "Red")),
        "fr": ("Quelle couleur obtient-on en mélangeant de la peinture bleue et de la peinture "
               "jaune ?", "Vert", ("Violet", "Orange", "Rouge")),
        "es": ("¿Qué color se obtiene al mezclar pintura azul y pintura amarilla?", "Verde",
               ("Morado", "Naranja", "Rojo")),
        "de": ("Welche Farbe entsteht, wenn man blaue und gelbe Farbe mischt?", "Grün",
               ("Lila", "Orange", "Rot")),
    },
    {
        "en": ("How many hours are there in a day?", "24", ("12", "20", "48")),
        "fr": ("Combien d'heures y a-t-il dans une journée ?", "24", ("12", "20", "48")),
        "es": ("¿Cuántas horas tiene un día?", "24", ("12", "20", "48")),
        "de": ("Wie viele Stunden hat ein Tag?", "24", ("12", "20", "48")),
    },
    {
        "en": ("Which of these animals is a mammal?", "Dolphin",
               ("Shark", "Salmon", "Octopus")),
        "fr": ("Lequel de ces animaux est un mammifère ?", "Dauphin",
               ("Requin", "Saumon", "Pieuvre")),
        "es": ("¿Cuál de estos animales es un mamífero?", "Delfín",
               ("Tiburón", "Salmón", "Pulpo")),
        "de": ("Welches dieser Tiere ist ein Säugetier?", "Delfin", ("Hai", "Lachs", "Krake")),
    },
    {
        "en": ("What is the official language of Brazil?", "Portuguese",
               ("Spanish", "French", "Italian")),
        "fr": ("Quelle est la langue officielle du Brésil ?", "Portugais",
               ("Espagnol", "Français", "Italien")),
        "es": ("¿Cuál es el idioma oficial de Brasil?", "Portugués",
               ("Español", "Francés", "Italiano")),
        "de": ("Was ist die Amtssprache Brasiliens?", "Portugiesisch",
               ("Spanisch", "Französisch", "Italienisch")),
    },
    {
        "en": ("Which star is closest to the Earth?", "The Sun",
               ("Sirius", "Polaris", "Betelgeuse")),
        "fr": ("Quelle est l'étoile la plus proche de la Terre ?", "Le Soleil",
               ("Sirius", "L'étoile polaire", "Bételgeuse")),
        "es": ("¿Cuál es la estrella más cercana a la Tierra?", "El Sol",
               ("Sirio", "La estrella polar", "Betelgeuse")),
        "de": ("Welcher Stern ist der Erde am nächsten?", "Die Sonne",
               ("Sirius", "Der Polarstern", "Beteigeuze")),
    },
    {
        "en": ("In a football (soccer) match, how many players does each team have on the "
               "field at the same time?", "11", ("7", "9", "15")),
        "fr": ("Dans un match de football, combien de joueurs chaque équipe a-t-elle sur le "
               "terrain en même temps ?", "11", ("7", "9", "15")),
        "es": ("En un partido de fútbol, ¿cuántos jugadores tiene cada equipo en el campo al "
               "mismo tiempo?", "11", ("7", "9", "15")),
        "de": ("Wie viele Spieler hat jede Mannschaft bei einem Fußballspiel gleichzeitig auf "
               "dem Platz?", "11", ("7", "9", "15")),
    },
    {
        "en": ("Which of these natural materials is the hardest?", "Diamond",
               ("Gold", "Chalk", "Marble")),
        "fr": ("Lequel de ces matériaux naturels est le plus dur ?", "Diamant",
               ("Or", "Craie", "Marbre")),
        "es": ("¿Cuál de estos materiales naturales es el más duro?", "Diamante",
               ("Oro", "Tiza", "Mármol")),
        "de": ("Welches dieser natürlichen Materialien ist am härtesten?", "Diamant",
               ("Gold", "Kreide", "Marmor")),
    },
    {
        "en": ("Which is the longest river in South America?", "Amazon",
               ("Orinoco", "Paraná", "Magdalena")),
        "fr": ("Quel est le plus long fleuve d'Amérique du Sud ?", "Amazone",
               ("Orénoque", "Paraná", "Magdalena")),
        "es": ("¿Cuál es el río más largo de América del Sur?", "Amazonas",
               ("Orinoco", "Paraná", "Magdalena")),
        "de": ("Welcher ist der längste Fluss Südamerikas?", "Amazonas",
               ("Orinoco", "Paraná", "Magdalena")),
    },
    {
        "en": ("What do bees collect from flowers to make honey?", "Nectar",
               ("Sand", "Leaves", "Seeds")),
        "fr": ("Que récoltent les abeilles sur les fleurs pour fabriquer le miel ?", "Nectar",
               ("Sable", "Feuilles", "Graines")),
        "es": ("¿Qué recogen las abejas de las flores para hacer miel?", "Néctar",
               ("Arena", "Hojas", "Semillas")),
        "de": ("Was sammeln Bienen aus Blüten, um Honig herzustellen?", "Nektar",
               ("Sand", "Blätter", "Samen")),
    },
    {
        "en": ("How many strings does a standard violin have?", "4", ("3", "5", "6")),
        "fr": ("Combien de cordes a un violon classique ?", "4", ("3", "5", "6")),
        "es": ("¿Cuántas cuerdas tiene un violín estándar?", "4", ("3", "5", "6")),
        "de": ("Wie viele Saiten hat eine gewöhnliche Geige?", "4", ("3", "5", "6")),
    },
    {
        "en": ("Which planet is closest to the Sun?", "Mercury", ("Venus", "Earth", "Mars")),
        "fr": ("Quelle planète est la plus proche du Soleil ?", "Mercure",
               ("Vénus", "La Terre", "Mars")),
        "es": ("¿Qué planeta es el más cercano al Sol?", "Mercurio",
               ("Venus", "La Tierra", "Marte")),
        "de": ("Welcher Planet ist der Sonne am nächsten?", "Merkur", ("Venus", "Erde", "Mars")),
    },
    {
        "en": ("Which metal is liquid at room temperature?", "Mercury",
               ("Iron", "Copper", "Aluminium")),
        "fr": ("Quel métal est liquide à température ambiante ?", "Mercure",
               ("Fer", "Cuivre", "Aluminium")),
        "es": ("¿Qué metal es líquido a temperatura ambiente?", "Mercurio",
               ("Hierro", "Cobre", "Aluminio")),
        "de": ("Welches Metall ist bei Raumtemperatur flüssig?", "Quecksilber",
               ("Eisen", "Kupfer", "Aluminium")),
    },
    {
        "en": ("Which shape has exactly three sides?", "Triangle",
               ("Square", "Circle", "Pentagon")),
        "fr": ("Quelle forme a exactement trois côtés ?", "Triangle",
               ("Carré", "Cercle", "Pentagone")),
        "es": ("¿Qué figura tiene exactamente tres lados?", "Triángulo",
               ("Cuadrado", "Círculo", "Pentágono")),
        "de": ("Welche Form hat genau drei Seiten?", "Dreieck",
               ("Quadrat", "Kreis", "Fünfeck")),
    },
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Building items
# --------------------------------------------------------------------------------------------


@dataclass
class Draft:
    """A question before its length and format are decided."""

    names: str
    body: str  # the question without the answer instruction
    answer: Answer
    answer_type: str
    kind: str  # instruction kind: number, city, yes_no, choice, object
    forbidden: tuple[str, ...]  # strings no distractor paragraph may contain
    multiline: bool = False  # put the instruction on its own line


@dataclass
class Built:
    item: dict[str, object]
    context: str  # the distractor prose ("" for short items)
    forbidden: tuple[str, ...]


def _pick_names(rng: random.Random, kind: str, pool_size: int = 2) -> list[str]:
    pool = ENGLISH_GIVEN if kind == "english" else NON_ENGLISH_GIVEN
    return rng.sample(pool, pool_size)


def _names_schedule(rng: random.Random, count: int) -> list[str]:
    kinds = ["english" if i % 2 == 0 else "non_english" for i in range(count)]
    rng.shuffle(kinds)
    return kinds


def arithmetic_drafts(rng: random.Random, lang: str) -> list[Draft]:
    drafts: list[Draft] = []
    for op in ("add", "add", "sub", "sub", "mul", "mul"):
        if op == "add":
            a, b = rng.randint(11, 69), rng.randint(11, 69)
            value, sym = a + b, "+"
        elif op == "sub":
            a = rng.randint(30, 99)
            b = rng.randint(5, a - 5)
            value, sym = a - b, "-"
        else:
            a, b = rng.randint(3, 12), rng.randint(3, 12)
            value, sym = a * b, "×"
        body = BARE_ARITHMETIC[lang].format(a=a, op=sym, b=b)
        drafts.append(Draft("none", body, value, "number", "number", (str(value),)))
    templates = list(WORD_PROBLEMS)
    rng.shuffle(templates)
    for kind, problem in zip(_names_schedule(rng, 8), templates[:8], strict=True):
        x, y, value = problem.draw(rng)
        first, second = _pick_names(rng, kind)
        body = problem.texts[lang].format(A=first, B=second, x=x, y=y)
        drafts.append(Draft(kind, body, value, "number", "number", (str(value),)))
    return drafts


def capital_drafts(rng: random.Random, lang: str) -> list[Draft]:
    drafts = []
    for country in rng.sample(COUNTRIES, ITEMS_PER_CELL):
        phrase = {"en": country.en, "fr": country.fr, "es": country.es, "de": country.de}[lang]
        body = CAPITAL_QUESTION[lang].format(c=phrase)
        accepted = country.accepted(lang)
        drafts.append(Draft("none", body, accepted, "text", "city", tuple(accepted)))
    return drafts


def yes_no_drafts(rng: random.Random, lang: str) -> list[Draft]:
    half = ITEMS_PER_CELL // 2
    yes = rng.sample([f for f in YES_NO_FACTS if f[0]], half)
    no = rng.sample([f for f in YES_NO_FACTS if not f[0]], half)
    forbidden = tuple(YES[lang] + NO[lang])
    drafts = []
    for truth, texts in yes + no:
        answer = list(YES[lang] if truth else NO[lang])
        drafts.append(Draft("none", texts[lang], answer, "yes_no", "yes_no", forbidden))
    return drafts


def _conversion_value(rng: random.Random, halves: bool) -> int:
    """A value in tenths: 2..12, or 2.5..9.5 for a third of the metric ones."""
    if halves and rng.random() < 0.35:
        return rng.randint(2, 9) * 10 + 5
    return rng.randint(2, 12) * 10


def unit_drafts(rng: random.Random, lang: str) -> list[Draft]:
    drafts: list[Draft] = []
    for src, dst, factor, halves in rng.sample(FORWARD_CONVERSIONS, 4):
        tenths = _conversion_value(rng, halves)
        value = tenths * factor // 10
        body = forward_question(lang, format_tenths(tenths, lang), src, dst)
        drafts.append(Draft("none", body, value, "number", "number", (str(value),)))
    for src, dst, divisor in rng.sample(REVERSE_CONVERSIONS, 4):
        value = rng.randint(2, 9)
        body = reverse_question(lang, str(value * divisor), src, dst)
        drafts.append(Draft("none", body, value, "number", "number", (str(value),)))
    pairs = list(NAMED_CONVERSIONS)
    rng.shuffle(pairs)
    factors = {(s, d): f for s, d, f, _ in FORWARD_CONVERSIONS}
    halves_ok = {(s, d): h for s, d, _, h in FORWARD_CONVERSIONS}
    for kind, pair in zip(_names_schedule(rng, 6), pairs[:6], strict=True):
        tenths = _conversion_value(rng, halves_ok[pair])
        value = tenths * factors[pair] // 10
        (name,) = _pick_names(rng, kind, 1)
        setup = NAMED_CONVERSIONS[pair][lang].format(name=name, v=format_tenths(tenths, lang))
        body = named_question(lang, setup, pair[1])
        drafts.append(Draft(kind, body, value, "number", "number", (str(value),)))
    return drafts


def extraction_drafts(rng: random.Random, lang: str) -> list[Draft]:
    drafts = []
    kinds = _names_schedule(rng, ITEMS_PER_CELL)
    english = iter(rng.sample(ENGLISH_FULL, kinds.count("english")))
    non_english = iter(rng.sample(NON_ENGLISH_FULL, kinds.count("non_english")))
    cities = rng.sample(CITIES, ITEMS_PER_CELL)
    before, label, after = EXTRACTION_PROMPT[lang]
    for i, (kind, city) in enumerate(zip(kinds, cities, strict=True)):
        name = next(english) if kind == "english" else next(non_english)
        age = rng.randint(19, 78)
        template = EXTRACTION_TEXTS[lang][i % len(EXTRACTION_TEXTS[lang])]
        text = template.format(name=name, age=age, city=city)
        body = f"{before}\n{label} {text}\n{after}"
        answer: dict[str, str | int] = {"name": name, "age": age, "city": city}
        drafts.append(Draft(kind, body, answer, "object", "object", (name, str(age), city)))
    return drafts


class LetterCycle:
    """Hands out the correct letters A, B, C, D in turn, so they are evenly distributed."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> int:
        position = self.count % len(LETTERS)
        self.count += 1
        return position


def mc_drafts(rng: random.Random, lang: str, letters: LetterCycle) -> list[Draft]:
    drafts = []
    for fact in rng.sample(MC_FACTS, ITEMS_PER_CELL):
        question, correct, wrong = fact[lang]
        options = list(wrong)
        rng.shuffle(options)
        position = letters.next()
        options.insert(position, correct)
        lines = [question] + [f"{LETTERS[i]}) {opt}" for i, opt in enumerate(options)]
        drafts.append(
            Draft("none", "\n".join(lines), LETTERS[position], "choice", "choice", (correct,),
                  multiline=True)
        )  # fmt: skip
    return drafts


# --------------------------------------------------------------------------------------------
# Long contexts
# --------------------------------------------------------------------------------------------


def contains_word(text: str, needle: str) -> bool:
    """Whether ``needle`` occurs in ``text`` as a whole word (case-insensitive)."""
    pattern = r"(?<!\w)" + re.escape(needle) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def word_count(text: str) -> int:
    return len(text.split())


def build_context(rng: random.Random, lang: str, forbidden: Sequence[str]) -> str:
    """Two or three distractor paragraphs, none containing a forbidden string, 170-330 words."""
    eligible = [p for p in DISTRACTORS[lang] if not any(contains_word(p, f) for f in forbidden)]
    rng.shuffle(eligible)
    chosen = eligible[: rng.choice((2, 3))]
    rest = eligible[len(chosen) :]
    while word_count(" ".join(chosen)) < MIN_CONTEXT_WORDS and rest:
        chosen.append(rest.pop())
    while word_count(" ".join(chosen)) > MAX_CONTEXT_WORDS:
        chosen.pop()
    return "\n\n".join(chosen)


def finish(
    rng: random.Random,
    task: str,
    lang: str,
    index: int,
    draft: Draft,
    *,
    long: bool,
    as_json: bool,
) -> Built:
    if draft.kind == "object":
        question, fmt = draft.body, "json"
    else:
        instruction = json_instruction(draft.kind, lang) if as_json else TEXT_INSTRUCTION[draft.kind][lang]
        question = draft.body + ("\n" if draft.multiline else " ") + instruction
        fmt = "json" if as_json else "text"
    context = ""
    if long:
        context = build_context(rng, lang, draft.forbidden)
        question = f"{context}\n\n{QUESTION_LABEL[lang]} {question}"
    length = "long" if long else "short"
    item: dict[str, object] = {
        "id": f"{TASK_ABBREV[task]}-{lang}-{length}-{index:03d}",
        "task": task,
        "lang": lang,
        "length": length,
        "names": draft.names,
        "format": fmt,
        "question": question,
        "answer": draft.answer,
        "answer_type": draft.answer_type,
    }
    return Built(item, context, draft.forbidden)


def build(seed: int) -> list[Built]:
    rng = random.Random(seed)
    letters = LetterCycle()
    built: list[Built] = []
    cells: dict[tuple[str, str], list[Built]] = {(t, la): [] for t in TASKS for la in LANGS}
    for t, task in enumerate(TASKS):
        for k, lang in enumerate(LANGS):
            if task == "arithmetic":
                drafts = arithmetic_drafts(rng, lang)
            elif task == "capitals":
                drafts = capital_drafts(rng, lang)
            elif task == "yes_no":
                drafts = yes_no_drafts(rng, lang)
            elif task == "unit_conversion":
                drafts = unit_drafts(rng, lang)
            elif task == "json_extraction":
                drafts = extraction_drafts(rng, lang)
            else:
                drafts = mc_drafts(rng, lang, letters)
            assert len(drafts) == ITEMS_PER_CELL, (task, lang, len(drafts))
            rng.shuffle(drafts)
            long_at = set(rng.sample(range(ITEMS_PER_CELL), LONG_PER_CELL))
            n_json = 4 if (t + k) % 2 == 0 else 3  # about a quarter of the items
            json_at = set(rng.sample(range(ITEMS_PER_CELL), n_json))
            for i, draft in enumerate(drafts):
                cells[(task, lang)].append(
                    finish(rng, task, lang, i + 1, draft, long=i in long_at, as_json=i in json_at)
                )
    # Interleave the cells (one item of every task x language in turn) so that any prefix of the
    # file, e.g. `tailgate run basic --limit 120`, is a stratified sample of the whole set.
    for i in range(ITEMS_PER_CELL):
        built.extend(cell[i] for cell in cells.values())
    return built


# --------------------------------------------------------------------------------------------
# Checks and report
# --------------------------------------------------------------------------------------------

ALLOWED: dict[str, tuple[str, ...]] = {
    "task": TASKS,
    "lang": LANGS,
    "length": ("short", "long"),
    "names": ("none", "english", "non_english"),
    "format": ("text", "json"),
    "answer_type": ("number", "text", "choice", "yes_no", "object"),
}
KEY_ORDER = ("id", "task", "lang", "length", "names", "format", "question", "answer",
             "answer_type")  # fmt: skip


def check_distractors() -> list[str]:
    problems = []
    for lang, paragraphs in DISTRACTORS.items():
        if len(paragraphs) < 8:
            problems.append(f"{lang}: only {len(paragraphs)} distractor paragraphs")
        for n, para in enumerate(paragraphs):
            words = word_count(para)
            if not 80 <= words <= 125:
                problems.append(f"{lang} distractor {n}: {words} words")
            if re.search(r"\d", para):
                problems.append(f"{lang} distractor {n}: contains a digit")
            for word in FORBIDDEN_DISTRACTOR_WORDS[lang]:
                if contains_word(para, word):
                    problems.append(f"{lang} distractor {n}: contains {word!r}")
    return problems


def check_items(built: Sequence[Built]) -> list[str]:
    problems = []
    items = [b.item for b in built]
    ids = [str(item["id"]) for item in items]
    if len(set(ids)) != len(ids):
        problems.append("duplicate ids")
    if len(items) < 320:
        problems.append(f"only {len(items)} items")
    for key in ("lang", "task"):
        for value, count in Counter(str(item[key]) for item in items).items():
            if count < (75 if key == "lang" else 50):
                problems.append(f"{key}={value}: only {count} items")
    for b in built:
        item = b.item
        if tuple(item) != KEY_ORDER:
            problems.append(f"{item['id']}: keys out of order")
        for key, allowed in ALLOWED.items():
            if item[key] not in allowed:
                problems.append(f"{item['id']}: {key}={item[key]!r}")
        if item["length"] == "long":
            words = word_count(b.context)
            if not MIN_CONTEXT_WORDS <= words <= MAX_CONTEXT_WORDS:
                problems.append(f"{item['id']}: context of {words} words")
            problems.extend(f"{item['id']}: context contains {f!r}" for f in b.forbidden if contains_word(b.context, f))
        if item["task"] == "json_extraction" and item["format"] != "json":
            problems.append(f"{item['id']}: extraction item not in json format")
    return problems


def _table(title: str, counts: Counter[str]) -> str:
    cells = ", ".join(f"{key}={counts[key]}" for key in sorted(counts))
    return f"{title}: {cells}"


def report(built: Sequence[Built]) -> str:
    items = [b.item for b in built]
    lines = [f"{len(items)} items", ""]
    header = f"{'task':<18}" + "".join(f"{lang:>6}" for lang in LANGS) + f"{'total':>7}"
    lines.append(header)
    by_cell = Counter((str(i["task"]), str(i["lang"])) for i in items)
    for task in TASKS:
        row = [by_cell[(task, lang)] for lang in LANGS]
        lines.append(f"{task:<18}" + "".join(f"{n:>6}" for n in row) + f"{sum(row):>7}")
    totals = [sum(by_cell[(task, lang)] for task in TASKS) for lang in LANGS]
    lines.append(f"{'total':<18}" + "".join(f"{n:>6}" for n in totals) + f"{sum(totals):>7}")
    lines.append("")
    for key in ("length", "names", "format", "answer_type"):
        lines.append(_table(key, Counter(str(i[key]) for i in items)))
    letters = Counter(str(i["answer"]) for i in items if i["answer_type"] == "choice")
    lines.append(_table("choice letters", letters))
    yes_no = Counter(
        "yes" if i["answer"] == YES[str(i["lang"])] else "no" for i in items if i["answer_type"] == "yes_no"
    )
    lines.append(_table("yes_no answers", yes_no))
    words = [word_count(b.context) for b in built if b.context]
    lines.append(f"long context words: min={min(words)}, max={max(words)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSONL path")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)

    built = build(args.seed)
    problems = check_distractors() + check_items(built)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1

    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        for b in built:
            fh.write(json.dumps(b.item, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
    print(report(built))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
