#!/usr/bin/env python3
"""A directory shaped like a company's, as LDIF on stdout, for benches/ldap_sync.sh.

    directory.py USERS BASE            the whole directory (slapadd input)
    directory.py USERS BASE --changes  100 changes and 5 deletions (ldapmodify input)

USERS people (inetOrgPerson + posixAccount: uid/gid numbers, home, shell; title, phone,
employee and department numbers the sync does not ask for), a third of them with non-ASCII
names, 5 % without mail, 90 % with a manager; 100 groups: "All Staff" holding everyone, 60
departments (one each, sizes skewed as real ones are), 39 project groups (40 % of people in one;
10 of them posixGroups naming members by uid, one nesting three departments): about 2.4
memberships per person. Deterministic: the same USERS give the same directory.
"""
import base64
import random
import sys

GIVEN = ["Anna", "Jürgen", "Zoë", "Søren", "José", "Łukasz", "Ingrid", "Mehmet", "Chloé", "Björn",
         "Ana", "Olaf", "Ævar", "Dorota", "Yūki", "Peter", "Maria", "Jiří", "Ines", "Noah"]
SUR = ["Müller", "Dvořák", "Nguyễn", "Ólafsdóttir", "Smith", "García", "Kowalski", "Østergaard",
       "Öztürk", "Lefèvre", "Brown", "Schmidt", "Novák", "Søndergaard", "Rossi", "Ōtsuka",
       "Johnson", "Weiß", "Fernández", "Lindqvist"]
TITLES = ["Engineer", "Analyst", "Manager", "Consultant", "Spezialistin", "Ingénieur", "Designer"]
DEPARTMENTS, PROJECTS, POSIX_PROJECTS = 60, 39, 10


def line(attr, value):
    """An LDIF attribute line, base64 when the value is not plain ASCII (RFC 2849)."""
    if value.isascii() and not value.startswith((" ", ":", "<")):
        return f"{attr}: {value}\n"
    return f"{attr}:: {base64.b64encode(value.encode()).decode()}\n"


def person(i, base, extra=""):
    rnd = random.Random(i)
    given = GIVEN[rnd.randrange(len(GIVEN))] if i % 3 == 0 else f"Given{i}"
    sur = SUR[rnd.randrange(len(SUR))] if i % 3 == 0 else f"Sur{i}"
    out = f"dn: uid=user{i},ou=People,{base}\n"
    out += "objectClass: inetOrgPerson\nobjectClass: posixAccount\n"
    out += f"uid: user{i}\n" + line("cn", f"{given} {sur}") + line("sn", sur)
    out += line("givenName", given) + line("displayName", f"{given} {sur} ({i})")
    if i % 20 != 7:
        out += f"mail: user{i}@example.com\n"
    if i % 10:
        out += f"manager: uid=user{i // 10 * 10},ou=People,{base}\n"
    out += line("title", TITLES[i % len(TITLES)])
    out += f"telephoneNumber: +49 30 {1000000 + i}\nemployeeNumber: {100000 + i}\n"
    out += f"departmentNumber: {i % DEPARTMENTS}\n"
    out += f"uidNumber: {10000 + i}\ngidNumber: 10000\nhomeDirectory: /home/user{i}\n"
    out += f"loginShell: /bin/bash\ngecos: user {i}\n"
    return out + extra + "\n"


def group_dn(name, base):
    return f"cn={name},ou=Groups,{base}"


def names():
    depts = [f"Dept {d:02d}" for d in range(DEPARTMENTS)]
    depts[1], depts[2] = "Vertrieb Süd", "Équipe Paris"
    projects = [f"Project {p:02d}" for p in range(PROJECTS)]
    return depts, projects


def directory(n, base):
    out = sys.stdout
    out.write(f"dn: {base}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n")
    out.write(f"dn: ou=People,{base}\nobjectClass: organizationalUnit\nou: People\n\n")
    out.write(f"dn: ou=Groups,{base}\nobjectClass: organizationalUnit\nou: Groups\n\n")
    rnd = random.Random(42)
    # Department sizes follow a Zipf-like curve: a few large ones, many small ones.
    weights = [1 / (d + 1) ** 0.8 for d in range(DEPARTMENTS)]
    dept_of = rnd.choices(range(DEPARTMENTS), weights, k=n)
    project_of = [rnd.randrange(PROJECTS) if rnd.random() < 0.4 else None for _ in range(n)]
    for i in range(n):
        out.write(person(i, base))
    depts, projects = names()
    member = lambda i: f"member: uid=user{i},ou=People,{base}\n"
    out.write(f"dn: {group_dn('All Staff', base)}\nobjectClass: groupOfNames\ncn: All Staff\n")
    out.writelines(member(i) for i in range(n))
    out.write("\n")
    for d, name in enumerate(depts):
        out.write(line("dn", group_dn(name, base)) + "objectClass: groupOfNames\n" + line("cn", name))
        out.writelines(member(i) for i in range(n) if dept_of[i] == d)
        out.write("\n")
    for p, name in enumerate(projects):
        people = [i for i in range(n) if project_of[i] == p]
        if p < POSIX_PROJECTS:
            out.write(f"dn: {group_dn(name, base)}\nobjectClass: posixGroup\ncn: {name}\n")
            out.write(f"gidNumber: {20000 + p}\n")
            out.writelines(f"memberUid: user{i}\n" for i in people)
        else:
            out.write(f"dn: {group_dn(name, base)}\nobjectClass: groupOfNames\ncn: {name}\n")
            if p == POSIX_PROJECTS:
                out.writelines(line("member", group_dn(depts[d], base)) for d in (3, 4, 5))
            out.writelines(member(i) for i in people)
            # groupOfNames needs a member; an empty project keeps its owner's entry.
            if not people and p != POSIX_PROJECTS:
                out.write(member(0))
        out.write("\n")


def changes(n, base):
    """100 changes spread over the directory, then 5 deletions."""
    picks = random.Random(7).sample(range(1, n), 120)
    out = sys.stdout
    mod = lambda i, body: out.write(f"dn: uid=user{i},ou=People,{base}\nchangetype: modify\n{body}\n")
    for i in picks[:60]:
        mod(i, "replace: displayName\n" + line("displayName", f"Renamed Ünïcode {i}"))
    for i in picks[60:80]:
        mod(i, f"replace: mail\nmail: moved{i}@example.com\n")
    for i in picks[80:90]:
        mod(i, f"replace: manager\nmanager: uid=user{picks[0]},ou=People,{base}\n")
    for k in range(5):
        out.write(person(n + k, base, "").replace("\n", "\nchangetype: add\n", 1))
    _, projects = names()
    for k, i in enumerate(picks[90:95]):
        g = group_dn(projects[PROJECTS - 1 - k], base)
        out.write(f"dn: {g}\nchangetype: modify\nadd: member\nmember: uid=user{i},ou=People,{base}\n\n")
    for i in picks[95:100]:
        out.write(f"dn: uid=user{i},ou=People,{base}\nchangetype: delete\n\n")


if __name__ == "__main__":
    n, base = int(sys.argv[1]), sys.argv[2]
    (changes if "--changes" in sys.argv[3:] else directory)(n, base)
