"""The lists of transfers on a large table: home page "Recent", gallery pages and counts.

Fills a throwaway SQLite database (or the empty one ``DATABASE_URL`` names) with N
finished transfers (default 200,000) of 200 users and 20,000 anonymous visitors, 1 %
of them shared, then times each list the site shows, for a new user, a user with many
transfers and a new visitor. The lists of a visitor's own and the shared transfers are
timed two ways, in turns on the same database: as one "own or shared" condition ordered
by date (how they were read before), and as the site reads them now
(:class:`tfapp.lists.NewestVisible`: on SQLite each side's newest first, on PostgreSQL
the one condition again); both must return the same transfers.

    python bench/many_transfers.py [--transfers 200000] [--shared 0.01] [--runs 20]
"""
import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import median_seconds, print_host  # noqa: E402

PAGE = 24  # the gallery's page size


def fill(count, shared_share):
    from django.contrib.auth.models import User
    from django.utils import timezone

    from tfapp.models import Transfer

    users = User.objects.bulk_create([User(username=f"user{i}") for i in range(200)])
    User.objects.create(username="newcomer")
    rng, now, rows = random.Random(0), timezone.now(), []
    for i in range(count):
        owner = rng.choice(users) if rng.random() < 0.5 else None
        rows.append(Transfer(content_image="x.png", content_width=8, content_height=8, engine="lite", max_size=1024,
                             style_size=256, status=Transfer.Status.DONE, owner=owner,
                             visitor="" if owner else f"visitor{rng.randrange(20000)}",
                             shared=rng.random() < shared_share, created_at=now - timedelta(seconds=count - i)))
        if len(rows) == 5000:
            Transfer.objects.bulk_create(rows)
            rows = []
    Transfer.objects.bulk_create(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=200_000)
    parser.add_argument("--shared", type=float, default=0.01, help="share of transfers shared publicly")
    parser.add_argument("--runs", type=int, default=20, help="timed reads of each list, per way")
    options = parser.parse_args()
    print_host()

    workdir = tempfile.mkdtemp(prefix="nst-many-")
    os.environ.setdefault("NST_DB_PATH", str(Path(workdir) / "db.sqlite3"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    import django
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Q

    from tfapp.models import NEWEST_FIRST, Transfer
    from tfapp.ownership import Ownership

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    fill(options.transfers, options.shared)
    print(f"{options.transfers} transfers ({options.shared:.1%} shared) in a {connection.vendor} database, "
          f"filled in {time.perf_counter() - started:.0f} s; median of {options.runs} reads each.\n")

    finished = Transfer.objects.finished()
    visitors = {"new user": Ownership(user=User.objects.get(username="newcomer")),
                "user with many": Ownership(user=User.objects.get(username="user0")),
                "new visitor": Ownership(visitor="nobody-yet")}
    print(f"{'list':34} {'visitor':16} {'one OR condition':>17} {'as the site does':>18}  same")
    for who, ownership in visitors.items():
        either = finished.filter(ownership.lookup() | Q(shared=True)).order_by(*NEWEST_FIRST)
        now = finished.visible_to(ownership)
        lists = {"home page Recent (6)": (lambda: list(either[:6]), lambda: list(now[:6])),
                 "gallery page 1 (24)": (lambda: list(either[:PAGE]), lambda: list(now[:PAGE])),
                 "gallery page 10": (lambda: list(either[9 * PAGE:10 * PAGE]), lambda: list(now[9 * PAGE:10 * PAGE])),
                 "gallery count": (either.count, now.count)}
        for name, (before, after) in lists.items():
            timings = [1000 * median_seconds(read, options.runs) for read in (before, after)]
            same = before() == after()
            print(f"{name:34} {who:16} {timings[0]:14.2f} ms {timings[1]:15.2f} ms  {'yes' if same else 'NO'}")
        mine = finished.owned_by(ownership).recent()
        print(f"{'gallery Mine, page 1 and count':34} {who:16} {'':>17} "
              f"{1000 * median_seconds(lambda: (list(mine[:PAGE]), mine.count()), options.runs):15.2f} ms")
    public = finished.shared().recent()
    print(f"{'gallery Public, page 1 and count':34} {'anyone':16} {'':>17} "
          f"{1000 * median_seconds(lambda: (list(public[:PAGE]), public.count()), options.runs):15.2f} ms")


if __name__ == "__main__":
    main()
