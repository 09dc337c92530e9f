"""Build and install Printgate.

Every Cython source in ``ext/`` becomes a module of the package whose pure-Python
reference it twins (``EXTENSION_PACKAGES``; ``ext/_scan.pyx`` -> ``spooler.pdl._scan``,
``ext/_ber.pyx`` -> ``accounting.directory._ber``): the compiled twin sits beside its
reference under the same package, as STYLE.md asks.
"""
from pathlib import Path

from setuptools import Extension, find_namespace_packages, setup

HERE = Path(__file__).parent
#: Our packages and the data directories inside them (panel templates, static files),
#: which setuptools treats as namespace packages: naming them here is what keeps it
#: from warning "Package would be ignored" on every install.
PACKAGES = find_namespace_packages(
    include=[f"{top}{suffix}" for top in ("gateway", "spooler", "accounting", "release_api", "panel_menus")
             for suffix in ("", ".*")],
    exclude=["*.__pycache__", "*.__pycache__.*"],
)


#: The package of each compiled twin (by its source's name), beside its reference.
EXTENSION_PACKAGES = {"_scan": "spooler.pdl", "_ber": "accounting.directory"}


def cython_extensions():
    from Cython.Build import cythonize

    sources = sorted((HERE / "ext").glob("*.pyx"))
    extensions = [
        Extension(
            f"{EXTENSION_PACKAGES[source.stem]}.{source.stem}",
            [str(source.relative_to(HERE))],
            extra_compile_args=["-O3"],
        )
        for source in sources
    ]
    return cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


setup(
    name="printgate",
    version="0.1.0",
    description="Print-release and print-accounting gateway",
    python_requires=">=3.11",
    packages=PACKAGES,
    py_modules=["printgate_errors"],
    package_data={
        "accounting": ["migrations/*.ini", "migrations/*.py", "migrations/versions/*.py"],
        "panel_menus": ["templates/**/*", "static/**/*", "*.toml"],
        "release_api": ["templates/**/*", "static/**/*"],
        "release_api.web": ["templates/*.html", "static/*"],
    },
    include_package_data=True,
    ext_modules=cython_extensions(),
    install_requires=[
        "twisted[tls]>=24.7,<27",
        "cython>=3.0,<4",
        "sqlalchemy>=2.0.30,<3",
        "alembic>=1.13,<2",
        "jinja2>=3.1,<4",
        "ldap3>=2.9,<3",
        "pysnmp>=7.1,<8",
        "pyasn1>=0.6,<0.7",
        "cryptography>=42,<50",
        # Used directly (not only through twisted[tls]) to check ipps:// printers' certificates.
        "pyopenssl>=24.2,<27",
        "service-identity>=24.1,<27",
        "argon2-cffi>=23.1,<26",
        "psycopg[binary]>=3.1,<4",
        "pikepdf>=9,<11",
        "pillow>=10,<14",
        "tqdm>=4.66,<5",
        # Issue 16, the web pages: routing, TOTP, QR codes, OpenID Connect (and its HTTP).
        "klein>=24.8,<26",
        "pyotp>=2.9,<3",
        "segno>=1.6,<2",
        "authlib>=1.6,<2",
        "joserfc>=1.0,<2",
        "requests>=2.31,<3",
        # Finance reports and schedules (issue 15): XLSX, PDF, progress bar, calendar
        # schedules, SFTP and SMB destinations.
        "xlsxwriter>=3.2,<4",
        "reportlab>=4.2,<6",
        "croniter>=2,<8",
        "paramiko>=3.4,<6",
        "smbprotocol>=1.13,<2",
    ],
    extras_require={
        # SASL GSSAPI (Kerberos) binds to the directory; building it needs libkrb5-dev.
        "kerberos": ["gssapi>=1.8,<2"],
        "test": [
            "pytest>=8,<10",
            "pytest-timeout>=2.3,<3",
            "hypothesis>=6.100,<7",
            "playwright>=1.45,<2",
            "snmpsim>=1.1,<2",
            "pysmi>=1.5,<2",
            "aiosmtpd>=1.4,<2",
            "gssapi>=1.8,<2",
            "openpyxl>=3.1,<4",
            "atheris>=2.3,<4; platform_machine == 'x86_64'",
        ],
    },
    entry_points={"console_scripts": ["printgate = gateway.cli:main"]},
)
