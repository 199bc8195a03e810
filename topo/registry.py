"""The registries of the testbed (HA stacks, faults, kernel modes, node backends): the
classes that a package's modules mark with @register, by name, found by importing the
package's modules. A new stack, fault, mode or backend is one new module."""
import importlib
import pkgutil


class Registry(dict):
    def __init__(self, package, what, error=KeyError):
        dict.__init__(self)
        self.package, self.what, self.error = package, what, error

    def register(self, cls):
        self[cls.name] = cls
        return cls

    def load(self):
        package = importlib.import_module(self.package)
        for mod in pkgutil.iter_modules(package.__path__):
            importlib.import_module('%s.%s' % (self.package, mod.name))
        return self

    def get(self, name):
        """The class of that name: its own module first (a module named as it registers:
        the others, and what they import, stay unloaded), else every module."""
        if name not in self:
            try:
                importlib.import_module('%s.%s' % (self.package, name.replace('-', '_')))
            except ImportError:
                pass
        if name in self:
            return self[name]
        self.load()
        if name not in self:
            raise self.error('unknown %s %r: choose one of %s'
                             % (self.what, name, ', '.join(sorted(self))))
        return self[name]
