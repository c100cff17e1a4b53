"""A synthetic evidence site in the real content format, for benchmarks and speed tests.

Input: a folder, a number of studies N and a seed. Output: a project folder (`content/` with
`site.yaml`, three conditions, N studies, a `references.bib` of N entries, a few claims and
pages, plus the real `templates/` and `static/`) that builds without problems. The same N and
seed always give the same bytes.

Each study has about 600 words of Markdown with headings, a list, a table, 3 to 5 citations
and links to other studies. The text is filler made of plain words: it is not medical content.

    python3 benchmarks/generate.py OUT_DIR --studies 1000 [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


CONDITIONS = (
    ("low-back-pain", "Low back pain", 1),
    ("sciatica", "Sciatica", 2),
    ("spinal-stenosis", "Spinal stenosis", 3),
)
DESIGNS = (
    ("systematic-review", "people"),
    ("meta-analysis", "people"),
    ("rct", "people"),
    ("rct", "people"),
    ("rct", "people"),
    ("non-randomised-trial", "people"),
    ("uncontrolled-study", "people"),
    ("case-series", "people"),
    ("case-report", "people"),
    ("cross-sectional-survey", "people"),
    ("animal-study", "animals"),
    ("trial-protocol", "people"),
)
CERTAINTY_WORDING = {"moderate": "probably", "low": "may", "very-low": "very uncertain"}
FAMILIES = _words(
    "Smith Jones Brown Garcia Miller Davis Wilson Anderson Thomas Taylor Moore Martin Lee Walker "
    "Hall Allen Young King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts "
    "Carter Phillips Evans Turner Torres Parker Collins Edwards Stewart Morris Murphy Cook Rogers "
    "Morgan Cooper Peterson Bailey Reed Kelly Howard Kim Chen Wang Li Zhang Liu Yang Huang Zhao "
    'Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Tanaka Suzuki Sato Inoue Yamamoto M{\\"u}ller '
    'Schr{\\"o}der Y{\\"u}ksel Nu{\\~n}ez Fran{\\c{c}}ois'
)
GIVEN = _words("A. B. C. D. E. F. G. H. J. K. L. M. N. P. R. S. T. W. Y. Z.")
JOURNALS = (
    "Journal of Back Pain Research",
    "Spine Studies Quarterly",
    "Pain Medicine Reports",
    "Journal of Complementary Care",
    "Clinical Trials in Musculoskeletal Health",
    "Evidence Reviews in Rehabilitation",
)
TOPICS = _words("needle point nerve disc spine muscle sleep walking stretch heat exercise posture")
WORDS = _words(
    "people pain back week month trial group care study result change score number dose "
    "clinic doctor nurse visit session treatment needle time health walk sleep work day "
    "measure report answer question sample year end start level sign effect rate part"
)
LINKERS = _words("and then but so because while after before when although")
VERBS = _words(
    "had reported showed measured found compared noted saw gave asked used tested checked"
)
ADJECTIVES = _words("small large short long mild strong early late usual common rare clear")


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(ADJECTIVES), rng.choice(WORDS), rng.choice(VERBS)]
    words += [rng.choice(WORDS) for _ in range(rng.randint(3, 7))]
    if rng.random() < 0.5:
        words += [rng.choice(LINKERS), "the", rng.choice(WORDS), rng.choice(VERBS)]
        words += [rng.choice(WORDS) for _ in range(rng.randint(1, 4))]
    text = " ".join(["The", *words])
    return text + "."


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def study_slug(index: int) -> str:
    return f"{_clean_family(FAMILIES[index % len(FAMILIES)])}-study-{index:05d}"


def _clean_family(family: str) -> str:
    return "".join(ch for ch in family.lower() if ch.isalpha() and ch.isascii())


def reference_key(index: int) -> str:
    family = _clean_family(FAMILIES[(index * 7) % len(FAMILIES)])
    return f"{family}{2000 + index % 25}{TOPICS[index % len(TOPICS)]}{index:05d}"


def _bib_entry(index: int, rng: random.Random) -> str:
    authors = " and ".join(
        f"{rng.choice(FAMILIES)}, {rng.choice(GIVEN)} {rng.choice(GIVEN)}"
        for _ in range(rng.randint(1, 6))
    )
    year = 2000 + index % 25
    first_page = rng.randint(1, 900)
    topic = TOPICS[index % len(TOPICS)]
    lines = [
        f"@article{{{reference_key(index)},",
        f"  author  = {{{authors}}},",
        f"  title   = {{A {rng.choice(ADJECTIVES)} study of {topic} care number {index} "
        f"in {{MRI}}-checked back pain}},",
        f"  journal = {{{rng.choice(JOURNALS)}}},",
        f"  year    = {{{year}}},",
        f"  volume  = {{{rng.randint(1, 60)}}},",
        f"  number  = {{{rng.randint(1, 12)}}},",
        f"  pages   = {{{first_page}--{first_page + rng.randint(4, 20)}}},",
        f"  doi     = {{10.5555/synthetic.{year}.{index:05d}}},",
    ]
    if index % 3 == 0:
        lines.append(f"  pmid    = {{{30000000 + index}}},")
    lines.append("  note    = {Synthetic entry for benchmarks; not a real source.},")
    return "\n".join(lines) + "\n}\n"


def _study(index: int, n: int, rng: random.Random) -> str:
    design, subjects = DESIGNS[index % len(DESIGNS)]
    conditions = [CONDITIONS[index % 3][0]]
    if rng.random() < 0.3:
        conditions.append(CONDITIONS[(index + 1) % 3][0])
    own = reference_key(index)
    others = [reference_key(rng.randrange(n)) for _ in range(rng.randint(2, 4))]
    cited = [own, *dict.fromkeys(k for k in others if k != own)]
    linked = [study_slug(rng.randrange(n)) for _ in range(2)]
    status = "protocol" if design == "trial-protocol" else "published"
    participants = rng.randint(12, 900)
    front = [
        "---",
        f'title: "Synthetic {design.replace("-", " ")} number {index} '
        f'on {TOPICS[index % 12]} care"',
        f"design: {design}",
        f"subjects: {subjects}",
        f'population: "{participants} {"rats" if subjects == "animals" else "adults"} '
        f'in a made-up sample"',
        "conditions:",
        *(f"  - {c}" for c in conditions),
        f"participants: {participants}",
    ]
    if design in ("systematic-review", "meta-analysis"):
        front.append(f"included_studies: {rng.randint(3, 40)}")
    front += [
        f'intervention: "{rng.choice(ADJECTIVES).capitalize()} {TOPICS[index % 12]} sessions"',
        f'comparison: "{rng.choice(["Usual care", "Sham sessions", "No treatment"])}"',
        "outcomes:",
        '  - "Pain score"',
        '  - "Daily function"',
        f'follow_up: "{rng.randint(2, 52)} weeks"',
        f'key_finding: "The {rng.choice(WORDS)} score changed a {rng.choice(ADJECTIVES)} '
        f'amount in study {index}."',
        "certainty: not-graded",
        f"status: {status}",
        "references:",
        f"  - {own}",
        "limits:",
        f'  - "{_sentence(rng)}"',
        f'  - "{_sentence(rng)}"',
        f"last_reviewed: 2025-{1 + index % 12:02d}-{1 + index % 28:02d}",
        f"next_review: 2028-{1 + index % 12:02d}-{1 + index % 28:02d}",
        "---",
    ]
    citation_groups = [f"[@{cited[0]}]", f"[@{cited[1]}]"]
    citation_groups.append("[" + "; ".join(f"@{k}" for k in cited[2:]) + "]")
    body = [
        "",
        "## What was done",
        "",
        f"{_paragraph(rng, 7)} {citation_groups[0]}",
        "",
        _paragraph(rng, 6),
        "",
        "## What was found",
        "",
        f"{_paragraph(rng, 6)} {citation_groups[1]}",
        "",
        "| Group | People | Change |",
        "|---|---|---|",
        f"| Treated | {participants // 2} | {rng.randint(1, 30)} points |",
        f"| Compared | {participants - participants // 2} | {rng.randint(1, 30)} points |",
        "",
        "### Details",
        "",
        f"{_paragraph(rng, 6)} {citation_groups[2]}",
        "",
        *(f"- {_sentence(rng)}" for _ in range(4)),
        "",
        "## What it means for you",
        "",
        f"{_paragraph(rng, 6)} Compare it with [a related study](/studies/{linked[0]}/) "
        f"and [another one](/studies/{linked[1]}/), or read about "
        f"[{conditions[0].replace('-', ' ')}](/conditions/{conditions[0]}/).",
        "",
        _paragraph(rng, 6),
        "",
    ]
    return "\n".join(front + body)


def _condition(slug: str, title: str, order: int, finding_studies: list[str]) -> str:
    findings = []
    for number, (certainty, wording) in enumerate(CERTAINTY_WORDING.items()):
        findings += [
            f"  - outcome: Outcome {number + 1}",
            "    comparison: Treatment compared with usual care",
            f"    effect: Treatment {wording} changes the score a little.",
            f"    certainty: {certainty}",
            f"    studies: [{finding_studies[number % len(finding_studies)]}]",
        ]
    return "\n".join(
        [
            "---",
            f'title: "{title}"',
            f'summary: "A synthetic condition page about {title.lower()}."',
            f'bottom_line: "Synthetic text for a benchmark about {title.lower()}."',
            f"order: {order}",
            "last_reviewed: 2025-06-01",
            "next_review: 2028-06-01",
            "findings:",
            *findings,
            "---",
            "",
            "## About this page",
            "",
            f"This synthetic page lists the made-up studies on {title.lower()}. "
            f"See [a study](/studies/{finding_studies[0]}/) and "
            "[the disclaimer](/pages/disclaimer/).",
            "",
        ]
    )


def _page(title: str, nav_order: int, text: str) -> str:
    return "\n".join(
        [
            "---",
            f'title: "{title}"',
            f'summary: "{title} of the synthetic benchmark site."',
            f"nav_order: {nav_order}",
            "last_reviewed: 2025-06-01",
            "next_review: 2028-06-01",
            "---",
            "",
            text,
            "",
        ]
    )


SITE_YAML = """\
title: "Synthetic evidence site"
tagline: "A generated site for measuring build speed."
base_url: "https://bench.example.org/"
language: "en"
citation_style: "american-medical-association"
publisher: "the benchmark"
editors:
  - name: "Benchmark editor"
    role: "generates the pages"
funding: "No funding."
conflicts: "No conflicts."
advertising: "No advertising."
contact: "Nobody: this site is generated."
"""


def generate(root: Path, studies: int, seed: int = 7, *, copy_theme: bool = True) -> Path:
    """Write a synthetic project with `studies` studies into `root` (replacing its content/)."""
    if studies < 3:
        raise ValueError("the synthetic site needs at least 3 studies")
    rng = random.Random(seed)
    content = root / "content"
    if content.exists():
        shutil.rmtree(content)
    for folder in ("conditions", "studies", "claims", "pages"):
        (content / folder).mkdir(parents=True)
    (content / "site.yaml").write_text(SITE_YAML, encoding="utf-8")
    header = "% Synthetic bibliography for benchmarks; no entry is a real source.\n\n"
    entries = [_bib_entry(index, rng) for index in range(studies)]
    (content / "references.bib").write_text(header + "\n".join(entries), encoding="utf-8")
    slugs = [study_slug(index) for index in range(studies)]
    for index in range(studies):
        path = content / "studies" / f"{slugs[index]}.md"
        path.write_text(_study(index, studies, rng), encoding="utf-8")
    for slug, title, order in CONDITIONS:
        bearing = [s for i, s in enumerate(slugs) if i % 3 == order - 1 and i % 12 != 11][:3]
        (content / "conditions" / f"{slug}.md").write_text(
            _condition(slug, title, order, bearing), encoding="utf-8"
        )
    for number in range(3):
        key = reference_key(number)
        (content / "claims" / f"claim-{number + 1}.md").write_text(
            "\n".join(
                [
                    "---",
                    f'claim: "Synthetic claim number {number + 1}."',
                    "verdict: overstated",
                    f"references: [{key}]",
                    f"order: {number + 1}",
                    "last_reviewed: 2025-06-01",
                    "next_review: 2028-06-01",
                    "---",
                    "",
                    f"{_paragraph(rng, 3)} [@{key}]",
                    "",
                ]
            ),
            encoding="utf-8",
        )
    (content / "pages" / "about.md").write_text(
        _page("About", 1, _paragraph(rng, 4)), encoding="utf-8"
    )
    (content / "pages" / "disclaimer.md").write_text(
        _page("Disclaimer", 2, "This generated site gives no advice of any kind."),
        encoding="utf-8",
    )
    if copy_theme:
        for folder in ("templates", "static"):
            if (root / folder).exists():
                shutil.rmtree(root / folder)
            shutil.copytree(REPO / folder, root / folder)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="project folder to write")
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    generate(args.out, args.studies, args.seed)
    print(f"wrote a synthetic site with {args.studies} studies to {args.out}")


if __name__ == "__main__":
    main()
