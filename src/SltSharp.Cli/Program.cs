Console.WriteLine("slt");
