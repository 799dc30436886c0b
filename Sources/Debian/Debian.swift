import OpenPGP
